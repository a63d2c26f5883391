/**
 * Where a run is and has been on the statechart, from its `sequence_state` events. One event is one
 * step of the machine: the transition its event took (a parent's, such as `running` on CANCEL,
 * counts for a run in one of its children), then, without another event, the transitions out of
 * every choice state it entered (`running.startingStep`'s `always`), the initial state of every
 * compound state it entered, and a compound state's `onDone` when it reached a final child. So the
 * route from `previous_state` to `state` is searched in the graph.
 */
import type { ChartEdge, ChartGraph, ChartNode, StreamEvent } from '../api/types.ts';

/** The marks of one run on the chart. */
export interface ChartPath {
  /** The node ids of the current state and its ancestors. */
  current: Set<string>;
  /** Node ids the run passed through, ancestors and choice states included. */
  visited: Set<string>;
  /**
   * Arrows the run took, as `source->target` (the layout's arrow ids): transitions between the
   * same two states are one arrow, and which of their guards held is not in the events.
   */
  taken: Set<string>;
}

/** `running.executing` → [`running`, `running.executing`]. */
function withAncestors(state: string): string[] {
  const parts = state.split('.');
  return parts.map((_, index) => parts.slice(0, index + 1).join('.'));
}

const within = (node: string, state: string): boolean => state === node || state.startsWith(`${node}.`);

/** The arrow an edge is drawn in. */
export const arrowId = (edge: ChartEdge): string => `${edge.source}->${edge.target}`;

/** A graph's nodes by id and edges by source, built once per graph. */
interface Index {
  nodes: Map<string, ChartNode>;
  out: Map<string, ChartEdge[]>;
}

const indexes = new WeakMap<ChartGraph, Index>();

function indexOf(graph: ChartGraph): Index {
  let index = indexes.get(graph);
  if (!index) {
    const out = new Map<string, ChartEdge[]>();
    for (const edge of graph.edges) {
      if (edge.target === null) continue;
      const list = out.get(edge.source);
      if (list) list.push(edge);
      else out.set(edge.source, [edge]);
    }
    index = { nodes: new Map(graph.nodes.map((node) => [node.id, node])), out };
    indexes.set(graph, index);
  }
  return index;
}

/** More hops than any chain of eventless transitions in a sane chart; also stops a cycle. */
const MAX_HOPS = 12;

/**
 * The edges that enter `id` and come to rest in `to` without another event, or null: through a
 * compound state's initial child, a choice state's `always` transitions, a final child's `onDone`,
 * or a history state (which returns to wherever its parent was, so to any state inside it).
 */
function arrive(index: Index, id: string, to: string, hops: number): ChartEdge[] | null {
  const node = index.nodes.get(id);
  if (!node || hops > MAX_HOPS) return null;
  if (node.type === 'history') return node.parent !== null && within(node.parent, to) ? [] : null;
  if (node.initial !== null) return arrive(index, node.initial, to, hops + 1);
  if (node.id === to) return [];
  const onward =
    node.type === 'final'
      ? node.parent === null
        ? []
        : (index.out.get(node.parent) ?? []).filter((edge) => edge.event === 'onDone')
      : (index.out.get(node.id) ?? []).filter((edge) => edge.event === 'always');
  return shortestRoute(onward, (edge) => arrive(index, edge.target as string, to, hops + 1));
}

/**
 * The shortest way that begins with one of `edges` and goes on with `rest`, the first in the
 * machine's order among equals; null when none goes on. A success decides its next step on its own
 * transition, and a later alternative that passes a choice state reaches the same state only when a
 * rarer guard held (`nextIsClosedLoop`): the direct arrow is the one taken.
 */
function shortestRoute(edges: readonly ChartEdge[], rest: (edge: ChartEdge) => ChartEdge[] | null): ChartEdge[] | null {
  let best: ChartEdge[] | null = null;
  for (const edge of edges) {
    const tail = rest(edge);
    if (tail && (best === null || tail.length + 1 < best.length)) best = [edge, ...tail];
  }
  return best;
}

/**
 * The edges an event took from `from` to `to`. The deepest state with a matching transition decides
 * (as in XState); among its guarded alternatives the shortest way to `to` is taken, the first of
 * equals as XState tries them. Guards the events do not tell apart mostly share an arrow
 * (`closingStep` goes on to `startingStep` either way); where they do not, the rarer alternative is
 * the one missed.
 */
function route(index: Index, from: string, event: string, to: string): ChartEdge[] | null {
  for (const source of withAncestors(from).reverse()) {
    const edges = (index.out.get(source) ?? []).filter((edge) => edge.event === event);
    const found = shortestRoute(edges, (edge) => arrive(index, edge.target as string, to, 0));
    if (found) return found;
  }
  return null;
}

/** Computes a run's marks from its current state and its events. */
export function chartPath(graph: ChartGraph | null, state: string, events: readonly StreamEvent[]): ChartPath {
  const current = new Set(state ? withAncestors(state) : []);
  const visited = new Set<string>(current);
  const taken = new Set<string>();
  const index = graph ? indexOf(graph) : null;
  for (const event of events) {
    if (event.type !== 'sequence_state') continue;
    const to = String(event.data.state ?? '');
    const from = String(event.data.previous_state ?? '');
    for (const id of withAncestors(to)) visited.add(id);
    if (from) for (const id of withAncestors(from)) visited.add(id);
    if (!index || !from) continue;
    for (const edge of route(index, from, String(event.data.event ?? ''), to) ?? []) {
      taken.add(arrowId(edge));
      for (const id of withAncestors(edge.source)) visited.add(id);
      for (const id of withAncestors(edge.target as string)) visited.add(id);
    }
  }
  return { current, visited, taken };
}
