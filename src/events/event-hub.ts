/**
 * The replay buffer of the event stream: the last N events of the engine's bus (default 10,000),
 * each serialised at most once, as the JSON text every client receives. Appending is O(1); because the bus
 * numbers events one by one, the event with a given `seq` sits at a computed slot, so a replay
 * starts without a scan. Live listeners hear each event after it is buffered.
 */
import type { EventBus } from './event-bus.ts';
import type { EventEnvelope } from './event-types.ts';

/** A buffered event and its JSON text, serialised once, when a client first needs it. */
export class HubEntry {
  readonly event: EventEnvelope;
  #json: string | null = null;

  constructor(event: EventEnvelope) {
    this.event = event;
  }

  /** The envelope as JSON: the same text goes to every client. */
  get json(): string {
    this.#json ??= JSON.stringify(this.event);
    return this.#json;
  }
}

/**
 * Encodes texts as WebSocket text frames as a server sends them (final, unmasked, uncompressed;
 * RFC 6455 5.2), back to back in one buffer: a turn's events go out in one write, and one buffer
 * for all of them costs a third of a buffer per frame joined afterwards.
 */
export function textFrames(texts: readonly string[]): Buffer {
  const lengths = texts.map((text) => Buffer.byteLength(text));
  let total = 0;
  for (const length of lengths) total += headerLength(length) + length;
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  texts.forEach((text, i) => {
    const length = lengths[i] as number;
    out[at] = 0x81;
    if (length < 126) {
      out[at + 1] = length;
    } else if (length < 65_536) {
      out[at + 1] = 126;
      out.writeUInt16BE(length, at + 2);
    } else {
      out[at + 1] = 127;
      out.writeBigUInt64BE(BigInt(length), at + 2);
    }
    at += headerLength(length);
    at += out.write(text, at, 'utf8');
  });
  return out;
}

/** One text frame (see `textFrames`). */
export function textFrame(text: string): Buffer {
  return textFrames([text]);
}

const headerLength = (length: number): number => (length < 126 ? 2 : length < 65_536 ? 4 : 10);

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
