/**
 * One filtered, newest-first list of runs for the runs page: its length comes from the server, its
 * rows are read a page at a time as they scroll into view, and runs that start while it is open are
 * added at the top. Rows are the shared objects of the runs store, so events update them in place.
 */
import { signal } from '@preact/signals';
import { get } from '../api/http.ts';
import type { Progress, RunList, RunStatus, StreamEvent } from '../api/types.ts';
import { remember, runs } from './runs.store.ts';

/** Rows per REST page. */
const PAGE = 100;

/** What the list shows. */
export interface ListFilter {
  /** A status, `active` (not ended), or `all`. */
  status: RunStatus | 'active' | 'all';
  /** Only runs of this sequence_id ('' for all). */
  sequenceId: string;
}

/** A filtered list of runs. */
export class RunListModel {
  readonly filter: ListFilter;
  /** Run ids by position; undefined where the page was not read yet. */
  ids: (string | undefined)[] = [];
  /** Counts of the last page read. */
  readonly counts = signal<{ total: number; running: number; completed: number; failed: number } | null>(null);
  /** One more whenever the rows or their number changed. */
  readonly changed = signal(0);
  /** Why the last page could not be read. */
  readonly error = signal<string | null>(null);
  readonly #pages = new Map<number, Promise<void>>();
  readonly #known = new Set<string>();
  /** Pages being read right now. */
  readonly #reading = new Set<number>();

  constructor(filter: ListFilter) {
    this.filter = filter;
  }

  /** Makes sure the page holding `index` is read (or being read). */
  ensure(index: number): void {
    const page = Math.floor(index / PAGE);
    if (this.#pages.has(page)) return;
    this.#pages.set(page, this.#read(page));
  }

  /** The run at a position, or undefined while its page loads (again, if the store forgot it). */
  at(index: number): Progress | undefined {
    const id = this.ids[index];
    if (id === undefined) return undefined;
    const run = runs.get(id);
    const page = Math.floor(index / PAGE);
    if (!run && !this.#reading.has(page)) {
      this.#pages.delete(page);
      this.ensure(index);
    }
    return run;
  }

  /** Adds runs that started after the list was read, at the top. */
  onEvents(events: readonly StreamEvent[]): void {
    const top = this.ids[0] === undefined ? undefined : runs.get(this.ids[0]);
    const newest = top?.started_at ? new Date(top.started_at).getTime() / 1000 : 0;
    const fresh: string[] = [];
    for (const event of events) {
      if (event.type !== 'sequence_started' || event.timestamp < newest) continue;
      const row = runs.get(String(event.data.run_id));
      if (row && this.#matches(row) && !this.#known.has(row.run_id)) {
        fresh.push(row.run_id);
        this.#known.add(row.run_id);
      }
    }
    if (fresh.length === 0) return;
    this.ids.unshift(...fresh.reverse());
    const counts = this.counts.value;
    if (counts) this.counts.value = { ...counts, total: counts.total + fresh.length };
    this.changed.value++;
  }

  #matches(row: Progress): boolean {
    const { status, sequenceId } = this.filter;
    if (sequenceId && row.sequence_id !== sequenceId) return false;
    return status === 'all' || status === 'active' || status === row.status;
  }

  async #read(page: number): Promise<void> {
    this.#reading.add(page);
    const query = new URLSearchParams({ limit: String(PAGE), offset: String(page * PAGE) });
    if (this.filter.status === 'active') query.set('running_only', 'true');
    else if (this.filter.status !== 'all') query.set('status', this.filter.status);
    if (this.filter.sequenceId) query.set('sequence_id', this.filter.sequenceId);
    try {
      const list = await get<RunList>(`/sequences?${query}`);
      const rows = remember(list.sequences);
      rows.forEach((row, i) => {
        this.ids[page * PAGE + i] = row.run_id;
        this.#known.add(row.run_id);
      });
      if (this.ids.length < list.total) this.ids.length = list.total;
      this.counts.value = { total: list.total, running: list.running, completed: list.completed, failed: list.failed };
      this.error.value = null;
    } catch (error) {
      this.#pages.delete(page);
      this.error.value = (error as Error).message;
    }
    this.#reading.delete(page);
    this.changed.value++;
  }
}
