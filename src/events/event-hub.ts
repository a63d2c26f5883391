/**
 * The replay buffer of the event stream: the last N events of the engine's bus (default 10,000),
 * each encoded at most once, as the WebSocket frame every client receives. Appending is O(1); because the bus
 * numbers events one by one, the event with a given `seq` sits at a computed slot, so a replay
 * starts without a scan. Live listeners hear each event after it is buffered.
 */
import type { EventBus } from './event-bus.ts';
import type { EventEnvelope } from './event-types.ts';

/** A buffered event and its wire form, encoded once, when a client first needs it. */
export class HubEntry {
  readonly event: EventEnvelope;
  #frame: Buffer | null = null;

  constructor(event: EventEnvelope) {
    this.event = event;
  }

  /** The envelope as a complete WebSocket text frame: the same bytes go to every client. */
  get frame(): Buffer {
    this.#frame ??= textFrame(JSON.stringify(this.event));
    return this.#frame;
  }
}

/** Encodes a WebSocket text frame as a server sends it (final, unmasked, uncompressed; RFC 6455 5.2). */
export function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81;
  if (header === 2) {
    frame[1] = length;
  } else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  frame.write(text, header, 'utf8');
  return frame;
}

/** Options of the hub. */
export interface EventHubOptions {
  /** Events kept for replay (default 10,000). */
  capacity?: number;
}

/** Hears every event once it is buffered. */
export type HubListener = (entry: HubEntry) => void;

/** The default replay depth of SPEC 8. */
export const DEFAULT_HUB_CAPACITY = 10_000;

/** A fixed-size ring of the newest events, fed by one EventBus. */
export class EventHub {
  readonly capacity: number;
  readonly #ring: (HubEntry | undefined)[];
  readonly #listeners = new Set<HubListener>();
  /** `seq` of the oldest buffered event (meaningless while empty). */
  #first = 0;
  #size = 0;

  constructor(options: EventHubOptions = {}) {
    this.capacity = Math.max(1, Math.floor(options.capacity ?? DEFAULT_HUB_CAPACITY));
    this.#ring = new Array<HubEntry | undefined>(this.capacity);
  }

  /** Buffers every event the bus publishes from now on; returns the function that detaches. */
  attach(bus: EventBus): () => void {
    return bus.subscribe((event) => this.append(event));
  }

  /** `seq` of the oldest buffered event, or 0 when the buffer is empty. */
  get firstSeq(): number {
    return this.#size === 0 ? 0 : this.#first;
  }

  /** `seq` of the newest buffered event, or 0 when the buffer is empty. */
  get lastSeq(): number {
    return this.#size === 0 ? 0 : this.#first + this.#size - 1;
  }

  /** Events in the buffer. */
  get size(): number {
    return this.#size;
  }

  /** Buffers one event (the oldest falls out when full) and hands it to the live listeners. */
  append(event: EventEnvelope): HubEntry {
    const entry = new HubEntry(event);
    if (this.#size > 0 && event.seq !== this.lastSeq + 1) {
      // A seq that does not follow breaks the slot arithmetic; only a second bus could cause it.
      this.#ring.fill(undefined);
      this.#size = 0;
    }
    if (this.#size === 0) this.#first = event.seq;
    this.#ring[event.seq % this.capacity] = entry;
    if (this.#size < this.capacity) this.#size++;
    else this.#first++;
    for (const listener of this.#listeners) listener(entry);
    return entry;
  }

  /** The buffered event with this `seq`, or undefined when it is not (or no longer) buffered. */
  at(seq: number): HubEntry | undefined {
    if (this.#size === 0 || seq < this.#first || seq > this.lastSeq) return undefined;
    return this.#ring[seq % this.capacity];
  }

  /** Every buffered event with a larger `seq`, oldest first. */
  since(seq: number): HubEntry[] {
    const out: HubEntry[] = [];
    for (let s = Math.max(seq + 1, this.firstSeq); s <= this.lastSeq; s++) out.push(this.at(s) as HubEntry);
    return out;
  }

  /** Adds a live listener; returns the function that removes it. */
  subscribe(listener: HubListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
