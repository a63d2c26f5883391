/**
 * Write-ahead of events: with a store, a run's transitions are written before their events are
 * published. Runs changed during one turn of the event loop are written in one transaction (only
 * their latest state), then that turn's events go out in order. Without a store, events go out at
 * once.
 */
import type { EventType, SequenceEvents } from '../events/event-types.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { RunStore, StoredRun } from '../store/run-store.ts';
import type { Run } from './run.ts';

/**
 * Runs per write once a turn has changed this many: a batch of 250 serialises and commits in a few
 * ms, and a burst of 10,000 wake-ups then waits ~40 ms for its writes instead of seconds.
 */
export const BATCH_RUNS = 250;

interface Pending {
  type: EventType;
  data: SequenceEvents[EventType];
  at: number;
}

/** Batches run writes and holds events until their writes are done. */
export class WriteAhead {
  readonly #bus: EventBus;
  readonly #store: RunStore | null;
  readonly #rowOf: (run: Run) => StoredRun;
  readonly #onWriteError: (error: unknown, runs: Run[]) => void;
  #dirty = new Set<Run>();
  #events: Pending[] = [];
  #scheduled = false;
  /** How long the last successful batch took (serialising and committing), in ms. */
  lastFlushMs = 0;
  /** Runs written by the last successful batch. */
  lastBatchSize = 0;

  constructor(
    bus: EventBus,
    store: RunStore | null,
    rowOf: (run: Run) => StoredRun,
    onWriteError: (error: unknown, runs: Run[]) => void,
  ) {
    this.#bus = bus;
    this.#store = store;
    this.#rowOf = rowOf;
    this.#onWriteError = onWriteError;
  }

  /** Publishes an event, after the pending writes when there is a store. */
  event<T extends EventType>(type: T, data: SequenceEvents[T], at: number): void {
    if (!this.#store) {
      this.#bus.publish(type, data, at);
      return;
    }
    this.#events.push({ type, data, at });
    this.#schedule();
  }

  /** Marks a run as changed; its latest state is written with the next batch. */
  touch(run: Run): void {
    if (!this.#store) return;
    this.#dirty.add(run);
    this.#schedule();
    // A turn that moves thousands of runs (their timers expire together) would hold every event
    // until its end: past a batch's worth, write after the current callback instead.
    if (this.#dirty.size === BATCH_RUNS) queueMicrotask(this.flush);
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.flush);
  }

  /** Writes the changed runs in one transaction, then publishes the held events. */
  readonly flush = (): void => {
    this.#scheduled = false;
    const runs = [...this.#dirty];
    const events = this.#events;
    this.#dirty = new Set();
    this.#events = [];
    if (this.#store && runs.length > 0) this.#write(this.#store, runs);
    // Published even when the write failed: holding them would hide from every client what the
    // runs do to actuators, and the affected runs' failure (5631) follows as events of their own.
    for (const e of events) this.#bus.publish(e.type, e.data, e.at);
  };

  #write(store: RunStore, runs: Run[]): void {
    const started = performance.now();
    const queued: Run[] = [];
    for (const run of runs) {
      // A run that cannot be serialised fails alone; the others of its batch are still written.
      try {
        store.queueRun(this.#rowOf(run));
        queued.push(run);
      } catch (error) {
        this.#onWriteError(error, [run]);
      }
    }
    try {
      store.flush();
      this.lastFlushMs = performance.now() - started;
      this.lastBatchSize = queued.length;
    } catch (error) {
      this.#onWriteError(error, queued);
    }
  }
}
