/**
 * Write-ahead of events and effects: with a store, a run's transitions are written before their
 * events are published and before the actions they ask for reach outside the process. Runs changed
 * during one turn of the event loop are written in one transaction (only their latest state), then
 * that turn's events go out in order and its held actions start. An HTTP answer that acknowledges
 * a change waits for the same commit (`whenDurable`), so concurrent requests of one turn still
 * share one transaction. Without a store, events go out at once and actions start after the
 * current transition.
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

/** Someone waiting for the commit of what is pending now. */
interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/** Batches run writes and holds events until their writes are done. */
export class WriteAhead {
  readonly #bus: EventBus;
  readonly #store: RunStore | null;
  readonly #rowOf: (run: Run) => StoredRun;
  readonly #onWriteError: (error: unknown, runs: Run[]) => void;
  #dirty = new Set<Run>();
  #events: Pending[] = [];
  /** Effects that start once the current batch is committed (or its commit failed). */
  #effects: (() => void)[] = [];
  #waiters: Waiter[] = [];
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

  /**
   * Starts an effect (an action that reaches a device) once the transition that asked for it is
   * committed: a crash between the two must not leave a device acting for a run nobody stored.
   * The effect starts as a microtask, after the transition, whether or not the commit succeeded:
   * the runs of a failed commit are aborted, and their safe state must still reach the devices.
   */
  readonly afterCommit = (effect: () => void): void => {
    if (!this.#store) {
      queueMicrotask(effect);
      return;
    }
    this.#effects.push(effect);
    this.#schedule();
  };

  /**
   * Resolves once every change pending now is committed, at once when nothing is pending; rejects
   * with the store's error when that commit fails. What an HTTP answer acknowledges (a start, a
   * cancel, a pause) awaits this before it is sent: a crash after the answer loses nothing the
   * client was told. Requests handled in the same turn share the one commit.
   */
  whenDurable(): Promise<void> {
    if (!this.#store || (this.#dirty.size === 0 && !this.#scheduled)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.flush);
  }

  /** Writes the changed runs in one transaction, then publishes the held events and starts the held effects. */
  readonly flush = (): void => {
    this.#scheduled = false;
    const runs = [...this.#dirty];
    const events = this.#events;
    const effects = this.#effects;
    const waiters = this.#waiters;
    this.#dirty = new Set();
    this.#events = [];
    this.#effects = [];
    this.#waiters = [];
    const failure = this.#store && runs.length > 0 ? this.#write(this.#store, runs) : null;
    // Published even when the write failed: holding them would hide from every client what the
    // runs do to actuators, and the affected runs' failure (5631) follows as events of their own.
    for (const e of events) this.#bus.publish(e.type, e.data, e.at);
    for (const effect of effects) queueMicrotask(effect);
    for (const waiter of waiters) {
      if (failure) waiter.reject(failure.error);
      else waiter.resolve();
    }
  };

  /** Queues and commits the runs; returns the commit's failure, if it failed. */
  #write(store: RunStore, runs: Run[]): { error: unknown } | null {
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
      return null;
    } catch (error) {
      this.#onWriteError(error, queued);
      return { error };
    }
  }
}
