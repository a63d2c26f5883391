/**
 * Records every event an engine publishes and answers the questions tests ask about one run:
 * which events in which order, what its steps did, how it ended.
 */
import type { EventBus } from '../../src/events/event-bus.ts';
import type { EventEnvelope, EventType, SequenceEvents } from '../../src/events/event-types.ts';

/** An event whose payload type follows its `type`. */
type Envelope<T extends EventType> = EventEnvelope<T>;

export class EventRecorder {
  /** Every event, in the order it was published. */
  readonly all: EventEnvelope[] = [];
  readonly stop: () => void;
  readonly #waiters = new Set<(event: EventEnvelope) => void>();

  constructor(bus: EventBus) {
    this.stop = bus.subscribe((event) => {
      this.all.push(event);
      for (const waiter of [...this.#waiters]) waiter(event);
    });
  }

  /** Resolves with the first event (already published or future) of `type` that `match` accepts. */
  next<T extends EventType>(type: T, match: (data: SequenceEvents[T]) => boolean = () => true): Promise<SequenceEvents[T]> {
    const accepts = (event: EventEnvelope) => event.type === type && match(event.data as SequenceEvents[T]);
    const seen = this.all.find(accepts);
    if (seen) return Promise.resolve(seen.data as SequenceEvents[T]);
    return new Promise((resolve) => {
      const waiter = (event: EventEnvelope) => {
        if (!accepts(event)) return;
        this.#waiters.delete(waiter);
        resolve(event.data as SequenceEvents[T]);
      };
      this.#waiters.add(waiter);
    });
  }

  /** The events about one run (`run_id` in the payload). */
  of(runId: string): EventEnvelope[] {
    return this.all.filter((e) => (e.data as { run_id?: string }).run_id === runId);
  }

  /** The events of one type, optionally about one run. */
  ofType<T extends EventType>(type: T, runId?: string): Envelope<T>[] {
    const source = runId === undefined ? this.all : this.of(runId);
    return source.filter((e): e is Envelope<T> => e.type === type);
  }

  /** The event types of one run, in order, without `sequence_state` (one per transition). */
  types(runId: string): EventType[] {
    return this.of(runId)
      .filter((e) => e.type !== 'sequence_state')
      .map((e) => e.type);
  }

  /** `step:status` of each `sequence_step` event of a run's steps (`0:starting`, `0:completed`). */
  steps(runId: string, phase: 'steps' | 'cleanup' = 'steps'): string[] {
    return this.ofType('sequence_step', runId)
      .filter((e) => e.data.phase === phase)
      .map((e) => `${e.data.step}:${e.data.status}`);
  }

  /** The `sequence_completed` payload of a run, once it has ended. */
  completed(runId: string): SequenceEvents['sequence_completed'] | undefined {
    return this.ofType('sequence_completed', runId)[0]?.data;
  }
}
