/**
 * A node's reader of the cluster event log: from a seq on, it hands every stored event to
 * `onEvents` in seq order, woken by the appends' NOTIFY and polling as the fallback. This is how
 * a node's WebSocket hub hears every node's events with the cluster-wide seq.
 */
import type { Pool } from 'pg';
import type { EventEnvelope } from '../events/event-types.ts';
import { EVENTS_CHANNEL, headSeq, readSince } from './event-log.ts';
import { PgWakeup } from './pg-wakeup.ts';

/** Options of {@link EventTail}. */
export interface EventTailOptions {
  pool: Pool;
  /** Hand over events with a larger seq than this (default: the newest stored at start). */
  after?: number;
  /** Receives each batch of new events, in seq order, each event once. */
  onEvents(events: EventEnvelope[]): void;
  /** Milliseconds between polls (default 500). */
  pollMs?: number;
  /** Events read per query (default 1,000). */
  batch?: number;
  /** Where read failures go (default: nowhere); the next wake-up reads again. */
  onError?(error: unknown): void;
}

/** Follows the event log. */
export class EventTail {
  readonly #options: EventTailOptions;
  readonly #wakeup: PgWakeup;
  #last = 0;

  constructor(options: EventTailOptions) {
    this.#options = options;
    this.#wakeup = new PgWakeup({
      pool: options.pool,
      channel: EVENTS_CHANNEL,
      check: () => this.#read(),
      ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }

  /** The seq of the last event handed over. */
  get lastSeq(): number {
    return this.#last;
  }

  /** Starts following; resolves once listening. */
  async start(): Promise<void> {
    this.#last = this.#options.after ?? (await headSeq(this.#options.pool));
    await this.#wakeup.start();
    this.#wakeup.wake();
  }

  /** Reads what is stored now (the wake-ups call it too); resolves once handed over. */
  async catchUp(): Promise<void> {
    this.#wakeup.wake();
    await this.#wakeup.settled();
  }

  async #read(): Promise<void> {
    const batch = this.#options.batch ?? 1000;
    for (;;) {
      const events = await readSince(this.#options.pool, this.#last, batch);
      if (events.length === 0) return;
      this.#last = (events[events.length - 1] as EventEnvelope).seq;
      this.#options.onEvents(events);
      if (events.length < batch) return;
    }
  }

  /** Stops following. Idempotent. */
  close(): Promise<void> {
    return this.#wakeup.close();
  }
}
