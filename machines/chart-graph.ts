/**
 * The graph of a statechart, read off the machine itself: its state nodes and its transitions with
 * their event, guard and action names. One function serves every drawing of a chart (the generated
 * diagrams of docs/statechart.md, the operator console), so no drawing is made by hand and none can
 * drift from the machine the server runs.
 */
import type { AnyStateMachine } from 'xstate';

/** One state node. `id` is the dotted path from the machine's root (`running.executing`). */
export interface ChartNode {
  id: string;
  /** The node's own key (`executing`). */
  key: string;
  /** The parent node's id; null for the machine's top-level states. */
  parent: string | null;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** The id of the initial child of a compound node. */
  initial: string | null;
}

/** One transition (guarded alternatives of one event are one edge each, in the order they are tried). */
export interface ChartEdge {
  /** `source:event:index`, stable for a given machine. */
  id: string;
  source: string;
  /** The target node's id; null for a transition that only runs actions. */
  target: string | null;
  /** The event type; `always` for an eventless (transient) transition. */
  event: string;
  /** The guard's name, or null when the transition is not guarded. */
  guard: string | null;
  /** The names of the actions the transition runs. */
  actions: string[];
}

/** A machine's chart: its nodes (parents before children) and its edges. */
export interface ChartGraph {
  /** The machine's id. */
  id: string;
  /** The id of the machine's initial state. */
  initial: string | null;
  nodes: ChartNode[];
  edges: ChartEdge[];
  /** Transitions of the machine itself, taken in any state that has none of its own for the event (source: the machine's id). */
  rootEdges: ChartEdge[];
}

/** The minimum of XState's StateNode this reader relies on. */
interface NodeLike {
  id: string;
  key: string;
  type: ChartNode['type'];
  parent?: NodeLike;
  states: Record<string, NodeLike>;
  initial?: { target: readonly NodeLike[] };
  transitions: Map<string, readonly TransitionLike[]>;
  always?: readonly TransitionLike[];
}

interface TransitionLike {
  target?: readonly NodeLike[];
  guard?: unknown;
  actions: readonly unknown[];
}

/** Reads the chart of `machine`: every state node and every transition, in definition order. */
export function chartGraph(machine: AnyStateMachine): ChartGraph {
  const root = machine.root as unknown as NodeLike;
  const prefix = `${root.id}.`;
  const idOf = (node: NodeLike): string => (node.id.startsWith(prefix) ? node.id.slice(prefix.length) : node.id);
  const nodes: ChartNode[] = [];
  const edges: ChartEdge[] = [];
  const edgesOf = (id: string, node: NodeLike, into: ChartEdge[]): void => {
    const add = (event: string, list: readonly TransitionLike[]): void => {
      list.forEach((transition, index) => {
        const target = transition.target?.[0];
        into.push({
          id: `${id}:${event}:${index}`,
          source: id,
          target: target ? idOf(target) : null,
          event,
          guard: transition.guard === undefined ? null : guardName(transition.guard),
          actions: transition.actions.map(nameOf),
        });
      });
    };
    for (const [event, list] of node.transitions) add(eventName(event, node.id), list);
    if (node.always) add('always', node.always);
  };
  const visit = (node: NodeLike): void => {
    const id = idOf(node);
    const initial = node.initial?.target[0];
    nodes.push({
      id,
      key: node.key,
      parent: node.parent && node.parent !== root ? idOf(node.parent) : null,
      type: node.type,
      initial: initial ? idOf(initial) : null,
    });
    edgesOf(id, node, edges);
    for (const child of Object.values(node.states)) visit(child);
  };
  for (const child of Object.values(root.states)) visit(child);
  const rootEdges: ChartEdge[] = [];
  edgesOf(root.id, root, rootEdges);
  const initial = root.initial?.target[0];
  return { id: root.id, initial: initial ? idOf(initial) : null, nodes, edges, rootEdges };
}

/** `xstate.after.<delay>.<node id>` reads as `after <delay>`, and `xstate.done.state.<node id>` as `onDone`. */
function eventName(event: string, nodeId: string): string {
  const after = 'xstate.after.';
  const suffix = `.${nodeId}`;
  if (event.startsWith(after) && event.endsWith(suffix)) return `after ${event.slice(after.length, -suffix.length)}`;
  return event === `xstate.done.state.${nodeId}` ? 'onDone' : event;
}

/** A guard's name; XState's `and`, `or` and `not` read as `a && b`, `a || b` and `!a`. */
function guardName(guard: unknown): string {
  const parts = typeof guard === 'function' ? (guard as { guards?: unknown }).guards : undefined;
  if (!Array.isArray(parts)) return nameOf(guard);
  // A nested `and` or `or` keeps its parentheses; `!a` needs none.
  const grouped = (part: unknown) => Array.isArray((part as { guards?: unknown }).guards) && (part as { name: string }).name !== 'not';
  const names = parts.map((part) => (grouped(part) ? `(${guardName(part)})` : guardName(part)));
  switch ((guard as { name: string }).name) {
    case 'and':
      return names.join(' && ');
    case 'or':
      return names.join(' || ');
    case 'not':
      return `!${names[0]}`;
    default:
      return nameOf(guard);
  }
}

/** The name of a guard or an action: its string, its `type`, or its function's name. */
function nameOf(item: unknown): string {
  if (typeof item === 'string') return item;
  if (typeof item === 'function') return (item as { type?: string }).type ?? (item.name || 'inline');
  if (item && typeof item === 'object' && 'type' in item) return String((item as { type: unknown }).type);
  return 'inline';
}
