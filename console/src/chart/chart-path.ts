/**
 * Where a run is and has been on the statechart, from its `sequence_state` events: the states it
 * passed through (with their parents) and the transitions it took. A transition of a parent state
 * (`running` on CANCEL) counts for a run that left one of its children.
 */
import type { ChartGraph, StreamEvent } from '../api/types.ts';

/** The marks of one run on the chart. */
export interface ChartPath {
  /** The node ids of the current state and its ancestors. */
  current: Set<string>;
  /** Node ids the run passed through, ancestors included. */
  visited: Set<string>;
  /** Edge ids the run took. */
  taken: Set<string>;
}

/** `running.executing` → [`running`, `running.executing`]. */
function withAncestors(state: string): string[] {
  const parts = state.split('.');
  return parts.map((_, index) => parts.slice(0, index + 1).join('.'));
}

const within = (node: string, state: string): boolean => state === node || state.startsWith(`${node}.`);

/** XState names a delayed event `xstate.after.<delay>.<node id>`; the chart says `after <delay>`. */
function sameEvent(chartEvent: string, wireEvent: string): boolean {
  if (chartEvent === wireEvent) return true;
  if (chartEvent.startsWith('after ') && wireEvent.startsWith('xstate.after.')) {
    return wireEvent.startsWith(`xstate.after.${chartEvent.slice('after '.length)}.`);
  }
  return false;
}

/** Computes a run's marks from its current state and its events. */
export function chartPath(graph: ChartGraph | null, state: string, events: readonly StreamEvent[]): ChartPath {
  const current = new Set(state ? withAncestors(state) : []);
  const visited = new Set<string>(current);
  const taken = new Set<string>();
  for (const event of events) {
    if (event.type !== 'sequence_state') continue;
    const to = String(event.data.state ?? '');
    const from = String(event.data.previous_state ?? '');
    for (const id of withAncestors(to)) visited.add(id);
    if (from) for (const id of withAncestors(from)) visited.add(id);
    if (!graph) continue;
    const name = String(event.data.event ?? '');
    const edge = graph.edges.find((e) => e.target !== null && sameEvent(e.event, name) && within(e.source, from) && within(e.target, to));
    if (edge) taken.add(edge.id);
  }
  return { current, visited, taken };
}
