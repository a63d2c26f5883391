/**
 * The engine's one event source. It stamps each event with the per-server `seq` and the time it
 * happened, and hands it to listeners in order. A listener that throws is reported, never allowed
 * to break the engine.
 */
import type { EventEnvelope, EventType, SequenceEvents } from './event-types.ts';

/** Receives every published event, in `seq` order. */
export type EventListener = (event: EventEnvelope) => void;

/** Stamps and fans out events in `seq` order; the only way an event enters the stream. */
export class EventBus {
  #seq = 0;
  readonly #listeners = new Set<EventListener>();
  readonly #onListenerError: (error: unknown) => void;

  constructor(onListenerError: (error: unknown) => void = () => {}) {
    this.#onListenerError = onListenerError;
  }

  /** The `seq` of the last published event (0 before the first). */
  get lastSeq(): number {
    return this.#seq;
  }

  /** Publishes one event; `at` (Unix ms) is when it happened. Returns its envelope. */
  publish<T extends EventType>(type: T, data: SequenceEvents[T], at: number, correlationId?: string): EventEnvelope<T> {
    const envelope: EventEnvelope<T> = { type, seq: ++this.#seq, timestamp: at / 1000, data };
    if (correlationId !== undefined) envelope.correlation_id = correlationId;
    for (const listener of this.#listeners) {
      try {
        listener(envelope as EventEnvelope);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
    return envelope;
  }

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
