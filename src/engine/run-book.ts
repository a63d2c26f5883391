/**
 * The runs the engine holds in memory, indexed the ways the engine asks: by run_id, the
 * unfinished runs of a sequence_id (start modes, lookups by sequence_id) and the runs waiting in a
 * sequence's queue. An ended run stays only until its history row is committed (SPEC 3); from
 * then on the store answers for it. Every lookup is O(1).
 */
import type { Run } from './run.ts';

/** The engine's index of runs. */
export class RunBook {
  /** Every run the engine holds, top-level and nested, by run_id. */
  readonly runs = new Map<string, Run>();
  /** Non-terminal top-level runs by sequence_id, oldest first. */
  readonly active = new Map<string, Run[]>();
  /** Runs waiting in `queued` mode (or behind a restart) by sequence_id. */
  readonly queues = new Map<string, Run[]>();

  /** A top-level run by run_id, else the newest unfinished or queued run of a sequence_id. */
  find(id: string): Run | undefined {
    const byRun = this.runs.get(id);
    if (byRun) return byRun.parent ? undefined : byRun;
    const active = this.active.get(id);
    if (active?.length) return active[active.length - 1];
    const queued = this.queues.get(id);
    return queued?.length ? queued[queued.length - 1] : undefined;
  }

  /** A run is running under its sequence_id. */
  addActive(run: Run): void {
    const active = this.active.get(run.sequenceId);
    if (active) active.push(run);
    else this.active.set(run.sequenceId, [run]);
  }

  /** A run no longer runs; true when it was its sequence's last running run. */
  removeActive(run: Run): boolean {
    const active = this.active.get(run.sequenceId);
    if (!active) return false;
    const i = active.indexOf(run);
    if (i >= 0) active.splice(i, 1);
    if (active.length > 0) return false;
    this.active.delete(run.sequenceId);
    return true;
  }

  /** The queue of a sequence_id (created empty when it has none). */
  queueOf(sequenceId: string): Run[] {
    let queue = this.queues.get(sequenceId);
    if (!queue) {
      queue = [];
      this.queues.set(sequenceId, queue);
    }
    return queue;
  }

  /** Takes a run off its sequence's queue, if it is on it. */
  dequeue(run: Run): void {
    const queue = this.queues.get(run.sequenceId);
    const index = queue ? queue.indexOf(run) : -1;
    // A run whose launch failed was already taken off its queue: splice(-1) would drop another.
    if (!queue || index < 0) return;
    queue.splice(index, 1);
    if (queue.length === 0) this.queues.delete(run.sequenceId);
  }

  /** An ended run leaves memory. */
  forget(run: Run): void {
    this.runs.delete(run.runId);
  }

  /** Every top-level run that has not ended, queued ones included. */
  unfinished(): Run[] {
    return [...this.active.values(), ...this.queues.values()].flat();
  }
}
