/**
 * Mermaid state diagrams of a chart, drawn from `chartGraph` (never by hand), for
 * docs/statechart.md. A machine with compound states gets one diagram of its top level and one per
 * compound state, so each stays readable: the top level shows the transitions between top-level
 * states, each compound state its own children's.
 */
import type { ChartEdge, ChartGraph, ChartNode } from './chart-graph.ts';

/** One diagram: what it shows, and its Mermaid source. */
interface ChartDiagram {
  /** `top level`, or the id of the compound state it draws (`running`). */
  title: string;
  mermaid: string;
}

/** The diagrams of `graph`: its top level, then each compound state in the order of the chart. */
function chartDiagrams(graph: ChartGraph): ChartDiagram[] {
  const compounds = graph.nodes.filter((node) => node.type === 'compound');
  return [{ title: 'top level', mermaid: topLevel(graph) }, ...compounds.map((node) => ({ title: node.id, mermaid: inside(graph, node) }))];
}

/** Mermaid ids have no dots. */
const idOf = (nodeId: string) => nodeId.replaceAll('.', '_');

/** The top-level state a node belongs to. */
const topOf = (nodeId: string) => nodeId.split('.')[0] as string;

/** A node with only eventless transitions decides and moves on at once: drawn as a choice. */
function isChoice(graph: ChartGraph, node: ChartNode): boolean {
  const out = graph.edges.filter((edge) => edge.source === node.id);
  return out.length > 0 && out.every((edge) => edge.event === 'always');
}

/** `EVENT [guard] / action, action`; an eventless transition shows only its guard and actions. */
function label(edge: ChartEdge): string {
  const parts = [edge.event === 'always' ? '' : edge.event, edge.guard ? `[${edge.guard}]` : '', edge.actions.length ? `/ ${edge.actions.join(', ')}` : ''];
  return parts.filter(Boolean).join(' ').replaceAll(':', '#58;');
}

function declare(graph: ChartGraph, node: ChartNode, indent: string): string {
  const name = node.type === 'history' ? 'H (history)' : isChoice(graph, node) ? `◇ ${node.key}` : node.key;
  return `${indent}state "${name}" as ${idOf(node.id)}`;
}

function arrow(from: string, to: string, text: string, indent: string): string {
  return `${indent}${from} --> ${to}${text ? ` : ${text}` : ''}`;
}

/** The top level: top-level states, and every transition that leaves one for another (or itself). */
function topLevel(graph: ChartGraph): string {
  const lines = ['stateDiagram-v2'];
  const tops = graph.nodes.filter((node) => node.parent === null);
  for (const node of tops) lines.push(declare(graph, node, '    '));
  if (graph.initial) lines.push(arrow('[*]', idOf(graph.initial), '', '    '));
  for (const edge of graph.edges) {
    const from = topOf(edge.source);
    const to = topOf(edge.target ?? edge.source);
    // Moves inside one top-level state belong to its own diagram; a transition of the state itself stays.
    if (from === to && edge.source !== from) continue;
    const via = edge.source === from ? '' : `via ${edge.source.slice(from.length + 1)} `;
    lines.push(arrow(idOf(from), idOf(to), `${via}${label(edge)}`, '    '));
  }
  for (const node of tops) if (node.type === 'final') lines.push(arrow(idOf(node.id), '[*]', '', '    '));
  // Mermaid has no arrow from a whole chart: its own transitions are a note.
  const first = tops[0];
  if (first && graph.rootEdges.length > 0) {
    const text = graph.rootEdges.map((edge) => label(edge)).join(', ');
    lines.push(`    note left of ${idOf(first.id)} : in every state until the end#58; ${text}`);
  }
  return lines.join('\n');
}

/** A compound state: its children and their transitions; a transition leaving it ends at the outside state. */
function inside(graph: ChartGraph, parent: ChartNode): string {
  const children = graph.nodes.filter((node) => node.parent === parent.id);
  const childOf = (nodeId: string) => children.find((node) => nodeId === node.id || nodeId.startsWith(`${node.id}.`));
  const edges = graph.edges.filter((edge) => childOf(edge.source));
  const outside = [...new Set(edges.map((edge) => edge.target).filter((target): target is string => target !== null && !childOf(target)).map(topOf))];
  const lines = ['stateDiagram-v2', ...children.map((node) => declare(graph, node, '    '))];
  for (const top of outside) lines.push(`    state "${top} (outside ${parent.id})" as ${idOf(top)}`);
  if (parent.initial) lines.push(arrow('[*]', idOf(parent.initial), '', '    '));
  for (const edge of edges) {
    const target = edge.target ?? edge.source;
    const child = childOf(target);
    lines.push(arrow(idOf(edge.source), idOf(child ? child.id : topOf(target)), label(edge), '    '));
  }
  for (const node of children) if (node.type === 'final') lines.push(arrow(idOf(node.id), '[*]', '', '    '));
  return lines.join('\n');
}

/** The marker comments around a machine's generated diagrams in a Markdown file. */
export function chartMarkers(machineId: string): { start: string; end: string } {
  return { start: `<!-- chart:${machineId}:start (generated by npm run docs:charts; do not edit) -->`, end: `<!-- chart:${machineId}:end -->` };
}

/** The generated Markdown of a machine's diagrams, as it goes between its markers. */
export function chartMarkdown(graph: ChartGraph): string {
  return chartDiagrams(graph)
    .map((diagram) => `**${graph.id}: ${diagram.title}**\n\n\`\`\`mermaid\n${diagram.mermaid}\n\`\`\``)
    .join('\n\n');
}

/**
 * `markdown` with the block between each machine's markers replaced by its generated diagrams;
 * throws when a machine's markers are missing, so a renamed heading cannot drop a diagram silently.
 */
export function withChartDiagrams(markdown: string, graphs: readonly ChartGraph[]): string {
  let out = markdown;
  for (const graph of graphs) {
    const { start, end } = chartMarkers(graph.id);
    const from = out.indexOf(start);
    const to = out.indexOf(end);
    if (from < 0 || to < from) throw new Error(`docs: the markers of the ${graph.id} chart are missing`);
    out = `${out.slice(0, from + start.length)}\n\n${chartMarkdown(graph)}\n\n${out.slice(to)}`;
  }
  return out;
}
