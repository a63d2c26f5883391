/**
 * The charts as a reader sees them: small enough to follow (a transition budget, walked with the
 * same `chartGraph` the docs and the console draw from), every decision a named guard and every
 * effect a named action, and the diagrams of docs/statechart.md exactly what the machines generate.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ChartGraph } from '../../machines/chart-graph.ts';
import { chartMarkers, withChartDiagrams } from '../../machines/chart-mermaid.ts';
import { machineCharts } from '../../machines/charts.ts';

const charts = machineCharts();

/** Transitions leaving each state node (guarded alternatives each count). */
function outgoing(graph: ChartGraph): Map<string, number> {
  const counts = new Map<string, number>();
  for (const edge of graph.edges) counts.set(edge.source, (counts.get(edge.source) ?? 0) + 1);
  return counts;
}

describe('the sequence chart', () => {
  it('has at most 105 transitions in all and at most 10 leaving any one state node', () => {
    const graph = charts.sequence;
    // 72 before closed-loop steps (SPEC 2.1: when, wait_for, signals) added their 24, and the pause's
    // outputs (SPEC 7: held, off, restoring, resuming) their 5.
    expect(graph.edges.length).toBeLessThanOrEqual(105);
    const busiest = Math.max(...outgoing(graph).values());
    expect(busiest).toBeLessThanOrEqual(10);
  });

  it('has the states of SPEC 5 and keeps the step n in context', () => {
    const top = charts.sequence.nodes.filter((node) => node.parent === null).map((node) => `${node.id}:${node.type}`);
    expect(top).toEqual(['idle:atomic', 'running:compound', 'paused:compound', 'cleanup:compound', 'completed:final', 'failed:final', 'cancelled:final', 'timeout:final']);
    const waits = ['beforeDelay', 'delaying', 'executing', 'retrying', 'afterDelay'];
    for (const phase of ['running', 'cleanup']) {
      const children = charts.sequence.nodes.filter((node) => node.parent === phase).map((node) => node.key);
      expect(children).toEqual(expect.arrayContaining(waits));
    }
  });

  it('handles CANCEL, TIMEOUT, ABORT and PAUSE once on running, not in each of its substates', () => {
    const shared = charts.sequence.edges.filter((edge) => ['CANCEL', 'TIMEOUT', 'ABORT', 'PAUSE'].includes(edge.event) && edge.source.startsWith('running'));
    expect(shared.map((edge) => `${edge.source} ${edge.event} ${edge.target}`)).toEqual([
      'running PAUSE paused.off',
      'running PAUSE paused.held',
      'running CANCEL cleanup',
      'running TIMEOUT cleanup',
      'running ABORT cleanup',
    ]);
  });

  it('pauses with the outputs off or held, restores them before resuming, and re-enters a paused state after a restart', () => {
    const edges = charts.sequence.edges.filter((edge) => edge.source.startsWith('paused.') || (edge.source === 'paused' && edge.event === 'RECOVER'));
    expect(edges.map((edge) => `${edge.source} ${edge.event} ${edge.target}`)).toEqual(
      expect.arrayContaining([
        'paused.held RESUME paused.resuming',
        'paused.off RESUME paused.restoring',
        'paused.restoring OUTPUTS_RESTORED paused.resuming',
        'paused RECOVER paused.history',
      ]),
    );
  });
});

describe.each(Object.entries(charts))('the %s chart', (_, graph) => {
  it('names every guard and every action (no inline functions, no anonymous assign)', () => {
    const unnamed = graph.edges.filter(
      (edge) => edge.guard === 'inline' || edge.actions.some((action) => action === 'inline' || action.startsWith('xstate.')),
    );
    expect(unnamed).toEqual([]);
  });
});

describe('docs/statechart.md', () => {
  const file = join(import.meta.dirname, '..', '..', 'docs', 'statechart.md');
  const doc = readFileSync(file, 'utf8');

  it('holds the diagrams the machines generate (run npm run docs:charts after changing a machine)', () => {
    expect(withChartDiagrams(doc, [charts.sequence, charts.registry])).toBe(doc);
  });

  it('regenerating replaces only what lies between the markers', () => {
    const { start, end } = chartMarkers('registry');
    const stale = `# Title\n\nprose before\n\n${start}\n\nold drawing\n\n${end}\n\nprose after\n`;
    const fresh = withChartDiagrams(stale, [charts.registry]);
    expect(fresh.startsWith(`# Title\n\nprose before\n\n${start}\n\n**registry: top level**\n\n\`\`\`mermaid\nstateDiagram-v2\n`)).toBe(true);
    expect(fresh.endsWith(`\`\`\`\n\n${end}\n\nprose after\n`)).toBe(true);
    expect(fresh).not.toContain('old drawing');
    expect(() => withChartDiagrams('# no markers\n', [charts.registry])).toThrow(/markers of the registry chart/);
  });
});
