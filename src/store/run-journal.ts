/**
 * The bodies of a run's start record and journal records: written and read by the engine,
 * stored as opaque JSON by every backend. They live here, beside the store, because a migration
 * from an older schema builds them too (a v4 row becomes a start record and a snapshot record).
 */
import type { SequenceDefinition } from '../domain/definition.schema.ts';
import type { RunContext } from '../domain/progress.ts';

/** The start record's body: what recovery needs beside the definition. */
export interface StartBody {
  /** The plan the run executes; null only in runs migrated from before schema v4 (it is in their snapshot). */
  plan: unknown;
  context: RunContext | null;
  template: { name: string; version: number } | null;
  /** Unix ms when the run was queued, for a run that waited behind another (absent: it started at once). */
  queued_at?: number | null;
  /** The run it redrives and the step it begins at (absent: a run of its own). */
  redrive?: { of: string; from_step: number } | null;
  /**
   * The start mode and priority validation settled on: the definition is kept as sent, which may
   * leave them to their defaults (absent in runs stored before: their definition has them).
   */
  mode?: SequenceDefinition['mode'];
  priority?: number;
}

/** A journal record's body: the machine events of one turn (each with its `now`), or a compact snapshot. */
export type JournalBody = { events: unknown[] } | { snapshot: unknown };

/** A start record's body. */
export function startBody(
  plan: unknown,
  context: RunContext | null,
  template: StartBody['template'],
  more: Pick<StartBody, 'queued_at' | 'redrive' | 'mode' | 'priority'> = {},
): StartBody {
  return { plan, context, template, ...more };
}

/** A journal body holding a compact snapshot (recovery starts from the last one). */
export function journalSnapshotBody(snapshot: unknown): JournalBody {
  return { snapshot };
}

/** A journal body holding the events of one turn, in the order the run took them. */
export function journalEventsBody(events: unknown[]): JournalBody {
  return { events };
}
