/**
 * Write-ahead of events and effects (SPEC 11: every transition durable before its event is
 * published). What runs did during one turn of the event loop (starts, the events each run took,
 * ends) becomes one `commit(batch)` of the store; only once it has resolved are that turn's events
 * published, in order, and the actions it asked for that leave the process started. Commits are chained, so turns are
 * written and published in order even on a backend that answers asynchronously. An HTTP answer
 * that acknowledges a change waits for the same commit (`whenDurable`), so concurrent requests of
 * one turn share one transaction.
 *
 * An engine given no store of its own keeps its history in an in-memory store that nothing can
 * recover from: it is not `durable`, so events go out at once and actions start after the current
 * transition, and the commit only keeps the history the queries read: no journal (its runs take
 * no `turn`), a start record without the body recovery would need, a status change, the end.
 */
import { TERMINAL_STATUSES } from '../domain/progress.ts';
import { runIdOf, type EventType, type PendingEvent, type SequenceEvents } from '../events/event-types.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { CommitBatch, RunStore } from '../store/run-store.ts';
import { endRecord, startRecord, turnRecord, type SnapshotOf } from './journal-records.ts';
import type { Run } from './run.ts';

/**
 * Runs per write once a turn has changed this many: a batch of 250 commits in a few ms, and a
 * burst of 10,000 wake-ups then waits ~40 ms for its writes instead of seconds.
 */
export const BATCH_RUNS = 250;

/**
 * History rows a store nothing recovers from (not durable) is given per turn; the rest wait for
 * the next turns. Runs whose last steps come due together (100,000 runs started in 20 s end within
 * 20 s) then never hold the timers of the runs still running behind one long write: their history
 * lags instead, while they stay in memory and answer from there. `flush()` writes them all.
 */
export const HISTORY_ROWS_PER_TURN = 100;

/**
 * How long the history rows of a store nothing recovers from may wait to be written together: a
 * wave of ends comes a few runs a timer at a time, and 100 rows a commit cost about half as much
 * each as 5 (~19 against ~34 us in SQLite `:memory:`, see docs/benchmarks.md).
 */
export const HISTORY_DELAY_MS = 20;

/** Someone waiting for the commit of what is pending now. */
interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/** What the write-ahead is built on. */
export interface WriteAheadOptions {
  bus: EventBus;
  store: RunStore;
  /** Whether events and effects wait for the commit (false for an engine's own in-memory store). */
  durable: boolean;
  /**
   * The store logs each turn's events with its commit (`CommitBatch.events`): a cluster's shared
   * event log (SPEC 14). They are still published on the bus once committed. Default false.
   */
  logEvents?: boolean;
  /** A run's compact snapshot for the journal. */
  snapshotOf: SnapshotOf;
  /** A write failed: these runs are affected (a commit that failed, or a run that cannot be serialised). */
  onWriteError(error: unknown, runs: Run[]): void;
  /** These runs' ends are committed: nothing of them is left to write. */
  onEndsCommitted(runs: Run[]): void;
  /**
   * Whether this node may write its runs' turns now (a shared store: its leases are still valid
   * here); when not, it has stopped and discarded every run before answering. Default: always.
   */
  mayCommit?(): boolean;
  /** The store refused these runs' records: another node owns them now (SPEC 14). */
  onLost?(runIds: readonly string[]): void;
}

/** A batch on its way to the store, with the runs it carries. */
interface Batch extends CommitBatch {
  runs: Set<Run>;
  ended: Run[];
}

/** Batches a turn's records and holds its events until they are committed. */
export class WriteAhead {
  readonly #options: WriteAheadOptions;
  #starts: Run[] = [];
  #dirty = new Set<Run>();
  #ends: Run[] = [];
  #events: PendingEvent[] = [];
  /** Effects that start once the current batch is committed (or its commit failed). */
  #effects: (() => void)[] = [];
  #waiters: Waiter[] = [];
  /** A batch whose commit failed: written again, first, with the next one. */
  #retry: Batch | null = null;
  /** Runs whose start could not be serialised: the store never hears of them. */
  readonly #unstored = new WeakSet<Run>();
  /** The turn's end, when a flush is scheduled for it. */
  #scheduled: NodeJS.Immediate | null = null;
  /** When history rows wait for more to write with (not durable): their flush. */
  #historyTimer: NodeJS.Timeout | null = null;
  /** The end of the last commit (and of its publishing): the next one is chained after it. */
  #tail: Promise<void> = Promise.resolve();
  /** Waiters of the commit in flight, while one is. */
  #committing: Waiter[] | null = null;
  /** How long the last successful batch took (serialising and committing), in ms. */
  lastFlushMs = 0;
  /** Runs written by the last successful batch. */
  lastBatchSize = 0;

  constructor(options: WriteAheadOptions) {
    this.#options = options;
  }

  /** Publishes an event, after the pending writes when durable. */
  event<T extends EventType>(type: T, data: SequenceEvents[T], at: number): void {
    if (!this.#options.durable) {
      this.#options.bus.publish(type, data, at);
      return;
    }
    this.#events.push({ type, data, at });
    this.#schedule();
  }

  /** A run was admitted: its start record goes with the next batch. */
  started(run: Run): void {
    this.#starts.push(run);
    this.#schedule();
  }

  /** Whether runs are journaled (durable): only then does a run keep the events of its `turn`. */
  get journaled(): boolean {
    return this.#options.durable;
  }

  /** A run moved (or its status changed): the events it took go with the next batch. */
  touch(run: Run): void {
    // A run that is not journaled has only a status change to write, and an end's goes with its
    // history row (written with others, see `ended`).
    if (run.turn === null && (run.status === run.storedStatus || TERMINAL_STATUSES.has(run.status))) return;
    this.#dirty.add(run);
    this.#schedule();
    // A turn that moves thousands of runs (their timers expire together) would hold every event
    // until its end: past a batch's worth, write after the current callback instead.
    if (this.#dirty.size === BATCH_RUNS) queueMicrotask(this.#flushNow);
  }

  /**
   * A run ended: its history row goes with the next batch; where nothing recovers from the store,
   * once a batch's worth of rows is pending or `HISTORY_DELAY_MS` after the first (the run answers
   * from memory meanwhile), unless something else is written first.
   */
  ended(run: Run): void {
    this.#ends.push(run);
    if (this.#options.durable || this.#ends.length >= HISTORY_ROWS_PER_TURN) this.#schedule();
    else this.#historyTimer ??= setTimeout(this.#flushNow, HISTORY_DELAY_MS);
  }

  /**
   * Starts an effect whose action leaves the process (a device over MQTT, a webhook) once the
   * transition that asked for it is committed: a crash between the two must not leave a device
   * acting for a run nobody stored.
   * The effect starts as a microtask, after the transition, whether or not the commit succeeded:
   * the runs of a failed commit are aborted, and their safe state must still reach the devices.
   */
  readonly afterCommit = (effect: () => void): void => {
    if (!this.#options.durable) {
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
    if (!this.#options.durable) return Promise.resolve();
    const waiters = this.#scheduled ? this.#waiters : this.#committing;
    if (!waiters) return Promise.resolve();
    return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
  }

  #schedule(): void {
    this.#scheduled ??= setImmediate(this.#flushNow);
  }

  readonly #flushNow = (): void => {
    void this.#commit(this.#options.durable ? Infinity : HISTORY_ROWS_PER_TURN);
  };

  /**
   * Commits what is pending now, then publishes the held events and starts the held effects;
   * resolves when that is done (never rejects: a failed commit is reported through `onWriteError`).
   */
  flush(): Promise<void> {
    return this.#commit(Infinity);
  }

  /** Commits what is pending, with at most `maxEnds` history rows (the others in the next turn). */
  #commit(maxEnds: number): Promise<void> {
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = null;
    if (this.#historyTimer) clearTimeout(this.#historyTimer);
    this.#historyTimer = null;
    // Asked before the batch is built: runs this node may no longer drive are discarded by then.
    this.#options.mayCommit?.();
    const started = performance.now();
    const batch = this.#batch(maxEnds);
    if (this.#ends.length > 0) this.#schedule();
    const events = this.#events;
    const effects = this.#effects;
    const waiters = this.#waiters;
    this.#events = [];
    this.#effects = [];
    this.#waiters = [];
    if (this.#options.logEvents) batch.events = [...(batch.events ?? []), ...events];
    const empty = batch.starts.length === 0 && batch.records.length === 0 && batch.ends.length === 0 && !batch.events?.length;
    const commit = empty ? this.#tail : this.#tail.then(() => this.#options.store.commit(batch));
    this.#committing = waiters;
    this.#tail = commit.then(
      (result) => {
        // Before the effects start: a lost run's actions must find it stopped.
        const lost = result?.lost ?? [];
        if (lost.length > 0) this.#options.onLost?.(lost);
        this.lastFlushMs = performance.now() - started;
        this.lastBatchSize = empty ? this.lastBatchSize : batch.runs.size;
        // Before the events: whoever hears that a run completed finds it where it now lives, in the store.
        if (batch.ended.length > 0) this.#options.onEndsCommitted(batch.ended);
        this.#settle(events, effects, waiters, null);
      },
      (error: unknown) => {
        // Written again with the next batch, first: a journal must not lose a turn.
        this.#retry = batch;
        this.#options.onWriteError(error, [...batch.runs]);
        this.#settle(events, effects, waiters, { error });
      },
    );
    return this.#tail;
  }

  /** Run ids with something pending here (a start, a turn, an end, also of a batch to retry). */
  pendingRunIds(): Set<string> {
    const ids = new Set<string>();
    for (const run of [...this.#starts, ...this.#dirty, ...this.#ends, ...(this.#retry?.runs ?? [])]) ids.add(run.runId);
    return ids;
  }

  /**
   * Forgets everything pending of these runs, their events included: another node drives them
   * now, so nothing of theirs is written or published here any more.
   */
  discard(runIds: ReadonlySet<string>): void {
    const kept = (run: Run) => !runIds.has(run.runId);
    this.#starts = this.#starts.filter(kept);
    this.#dirty = new Set([...this.#dirty].filter(kept));
    this.#ends = this.#ends.filter(kept);
    this.#events = this.#events.filter((event) => !runIds.has(runIdOf(event) ?? ''));
    const retry = this.#retry;
    if (retry) {
      const keptId = (record: { run_id: string }) => !runIds.has(record.run_id);
      this.#retry = {
        starts: retry.starts.filter(keptId),
        records: retry.records.filter(keptId),
        ends: retry.ends.filter(keptId),
        ...(retry.events ? { events: retry.events.filter((event) => !runIds.has(runIdOf(event) ?? '')) } : {}),
        runs: new Set([...retry.runs].filter(kept)),
        ended: retry.ended.filter(kept),
      };
    }
  }

  #settle(events: PendingEvent[], effects: (() => void)[], waiters: Waiter[], failure: { error: unknown } | null): void {
    if (this.#committing === waiters) this.#committing = null;
    // Published even when the write failed: holding them would hide from every client what the
    // runs do to actuators, and the affected runs' failure (5631) follows as events of their own.
    for (const e of events) this.#options.bus.publish(e.type, e.data, e.at);
    for (const effect of effects) queueMicrotask(effect);
    for (const waiter of waiters) {
      if (failure) waiter.reject(failure.error);
      else waiter.resolve();
    }
  }

  /** The records of what is pending, after those of a failed batch; a run that cannot be serialised is left out and reported. */
  #batch(maxEnds: number): Batch {
    const retry = this.#retry;
    this.#retry = null;
    const batch: Batch = {
      starts: retry ? retry.starts : [],
      records: retry ? retry.records : [],
      ends: retry ? retry.ends : [],
      ...(retry?.events ? { events: retry.events } : {}),
      runs: retry ? retry.runs : new Set(),
      ended: retry ? retry.ended : [],
    };
    const starts = this.#starts;
    const dirty = this.#dirty;
    const ends = this.#ends.length > maxEnds ? this.#ends.splice(0, maxEnds) : this.#ends;
    this.#starts = [];
    this.#dirty = new Set();
    if (ends === this.#ends) this.#ends = [];
    const endsNow = new Set(ends);
    for (const run of starts) this.#add(batch, run, () => batch.starts.push(startRecord(run, this.#options.durable)), true);
    for (const run of dirty) {
      // The history row of a run that ends in this batch supersedes its last turn.
      if (endsNow.has(run)) {
        run.turn = [];
        continue;
      }
      this.#add(batch, run, () => {
        const record = turnRecord(run, this.#options.snapshotOf);
        if (record) batch.records.push(record);
      });
    }
    const now = Date.now();
    for (const run of ends) {
      this.#add(batch, run, () => batch.ends.push(endRecord(run, now)));
      batch.ended.push(run);
    }
    return batch;
  }

  /** Adds a run's record to the batch unless the run cannot be stored (then it is reported, alone). */
  #add(batch: Batch, run: Run, write: () => void, start = false): void {
    if (this.#unstored.has(run)) return;
    try {
      write();
      batch.runs.add(run);
    } catch (error) {
      if (start) this.#unstored.add(run);
      this.#options.onWriteError(error, [run]);
    }
  }
}
