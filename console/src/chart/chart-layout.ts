/**
 * Lays out a statechart graph (from `GET /statechart`) with ELK's layered algorithm, which places
 * compound states around their children and routes edges across levels. Coordinates come back
 * absolute (ELK's ROOT coordinate mode), ready to draw as SVG. Transitions between the same two
 * states are drawn as one arrow labelled with their events (each guard is named on hover): a chart
 * with a dozen guarded alternatives per event stays readable. Transitions that only run actions (no
 * target) are not drawn: they change no state.
 */
import ELK, { type ElkExtendedEdge, type ElkNode } from 'elkjs/lib/elk.bundled.js';
import type { ChartEdge, ChartGraph, ChartNode } from '../api/types.ts';
import { arrowId } from './chart-path.ts';

/** A placed state node. */
export interface PlacedNode {
  node: ChartNode;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A routed arrow: every transition from one state to another, with its label's place. */
export interface PlacedEdge {
  /** `source->target`. */
  id: string;
  /** The transitions it stands for, in the machine's order. */
  edges: ChartEdge[];
  points: { x: number; y: number }[];
  /** Where ELK placed the label; null when the chart has too many arrows to label them all. */
  label: { text: string; x: number; y: number } | null;
  /** A place for the label when it is drawn only on the path taken. */
  middle: { text: string; x: number; y: number };
}

/** A laid-out chart. */
export interface ChartLayout {
  width: number;
  height: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
}

const CHAR = 6.2;
const LABEL_HEIGHT = 12;
/** Above this many arrows, labels are left out of the layout (shown on the path taken and on hover). */
const LABELLED_ARROWS = 40;

/** The label of one transition: `EVENT [guard]`. */
export const edgeLabel = (edge: ChartEdge): string => (edge.guard ? `${edge.event} [${edge.guard}]` : edge.event);

/** The label of an arrow: its one transition's, or its distinct events with how many guards. */
function arrowLabel(edges: readonly ChartEdge[]): string {
  if (edges.length === 1) return edgeLabel(edges[0] as ChartEdge);
  const events = [...new Set(edges.map((e) => e.event))];
  const shown = events.length > 3 ? `${events.slice(0, 3).join(', ')} +${events.length - 3}` : events.join(', ');
  return `${shown} (${edges.length})`;
}

/** Computes the layout of a graph. */
export async function layoutChart(graph: ChartGraph): Promise<ChartLayout> {
  const elk = new ELK();
  const elkNodes = new Map<string, ElkNode>();
  const root: ElkNode = {
    id: '__root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'DOWN',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.json.edgeCoords': 'ROOT',
      'elk.json.shapeCoords': 'ROOT',
      'elk.layered.spacing.nodeNodeBetweenLayers': '36',
      'elk.spacing.nodeNode': '24',
      'elk.spacing.edgeLabel': '2',
      'elk.edgeLabels.placement': 'CENTER',
    },
    children: [],
    edges: [],
  };
  for (const node of graph.nodes) {
    const compound = node.type === 'compound' || node.type === 'parallel';
    const elkNode: ElkNode = compound
      ? { id: node.id, children: [], layoutOptions: { 'elk.padding': '[top=30,left=12,bottom=12,right=12]' } }
      : { id: node.id, width: Math.max(72, node.key.length * 8 + 24), height: 32 };
    elkNodes.set(node.id, elkNode);
    const parent = node.parent === null ? root : elkNodes.get(node.parent);
    (parent ?? root).children?.push(elkNode);
  }
  const arrows = new Map<string, ChartEdge[]>();
  for (const edge of graph.edges) {
    if (edge.target === null || !elkNodes.has(edge.source) || !elkNodes.has(edge.target)) continue;
    const id = arrowId(edge);
    const list = arrows.get(id);
    if (list) list.push(edge);
    else arrows.set(id, [edge]);
  }
  const labelled = arrows.size <= LABELLED_ARROWS;
  root.edges = [...arrows].map(([id, edges]): ElkExtendedEdge => {
    const first = edges[0] as ChartEdge;
    const text = arrowLabel(edges);
    const labels = labelled ? [{ text, width: text.length * CHAR, height: LABEL_HEIGHT }] : [];
    return { id, sources: [first.source], targets: [first.target as string], labels };
  });
  const laid = await elk.layout(root);

  const nodes: PlacedNode[] = [];
  const byId = new Map(graph.nodes.map((node) => [node.id, node]));
  const walk = (elkNode: ElkNode): void => {
    for (const child of elkNode.children ?? []) {
      const node = byId.get(child.id);
      if (node) nodes.push({ node, x: child.x ?? 0, y: child.y ?? 0, width: child.width ?? 0, height: child.height ?? 0 });
      walk(child);
    }
  };
  walk(laid);
  const edges: PlacedEdge[] = [];
  const collect = (elkNode: ElkNode): void => {
    for (const elkEdge of elkNode.edges ?? []) {
      const members = arrows.get(elkEdge.id);
      const section = elkEdge.sections?.[0];
      if (!members || !section) continue;
      const label = elkEdge.labels?.[0];
      const points = [section.startPoint, ...(section.bendPoints ?? []), section.endPoint];
      const middle = points[Math.floor(points.length / 2)] as { x: number; y: number };
      edges.push({
        id: elkEdge.id,
        edges: members,
        points,
        label: label ? { text: label.text ?? '', x: label.x ?? 0, y: label.y ?? 0 } : null,
        middle: { text: arrowLabel(members), x: middle.x + 4, y: middle.y - 10 },
      });
    }
    for (const child of elkNode.children ?? []) collect(child);
  };
  collect(laid);
  return { width: laid.width ?? 0, height: laid.height ?? 0, nodes, edges };
}
