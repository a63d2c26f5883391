/**
 * The sequence statechart as SVG: compound states around their children, transitions with their
 * event and guard, the run's current state lit, the states and transitions it passed through
 * marked. Marks are also told in words beside the drawing (never by colour alone).
 */
import { useEffect, useState } from 'preact/hooks';
import type { ChartGraph, StreamEvent } from '../api/types.ts';
import { edgeLabel } from './chart-layout.ts';
import { chartPath } from './chart-path.ts';
import { chart, loadChart } from './chart.store.ts';

/** Props of Statechart. */
export interface StatechartProps {
  /** The run's state as a dotted string (`running.executing`). */
  state: string;
  /** The run's events (its `sequence_state` events mark the path). */
  events: readonly StreamEvent[];
}

/** Draws the chart with one run's marks. */
export function Statechart({ state, events }: StatechartProps) {
  const [fit, setFit] = useState(true);
  useEffect(() => {
    void loadChart();
  }, []);
  const value = chart.value;
  if (value === null) return <p class="muted">Loading the statechart…</p>;
  if ('error' in value) return <p class="notice">{value.error}</p>;
  const { graph, layout } = value;
  const path = chartPath(graph, state, events);
  const mark = (id: string) => (path.current.has(id) ? 'current' : path.visited.has(id) ? 'visited' : 'idle');
  const trail = events.filter((e) => e.type === 'sequence_state').map((e) => String(e.data.state));
  return (
    <figure class="chart">
      <button type="button" class="link" aria-pressed={!fit} onClick={() => setFit(!fit)}>
        {fit ? 'Actual size' : 'Fit to width'}
      </button>
      <div class="chart-scroll">
        <svg
          class={`statechart${fit ? ' fit' : ''}`}
          viewBox={`-4 -4 ${layout.width + 8} ${layout.height + 8}`}
          width={layout.width + 8}
          role="img"
          aria-label={`Statechart of machine ${graph.id}; current state ${state || 'unknown'}`}
        >
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" class="arrow-head" />
            </marker>
            <marker id="arrow-taken" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" class="arrow-head taken" />
            </marker>
          </defs>
          {layout.nodes.map(({ node, x, y, width, height }) => {
            const compound = node.type === 'compound' || node.type === 'parallel';
            return (
              <g key={node.id} class={`state ${node.type} ${mark(node.id)}`} data-state-id={node.id} data-mark={mark(node.id)}>
                <rect x={x} y={y} width={width} height={height} rx={compound ? 10 : 8} />
                {node.type === 'final' ? <rect class="final-ring" x={x + 3} y={y + 3} width={width - 6} height={height - 6} rx={6} /> : null}
                <text x={x + (compound ? 10 : width / 2)} y={y + (compound ? 18 : height / 2 + 4)} text-anchor={compound ? 'start' : 'middle'}>
                  {graph.initial === node.id || graph.nodes.some((n) => n.initial === node.id) ? '● ' : ''}
                  {node.key}
                  {path.current.has(node.id) && !compound ? ' ◀' : ''}
                </text>
              </g>
            );
          })}
          {layout.edges.map(({ id, edges, points, label: placed, middle }) => {
            const taken = path.taken.has(id);
            const label = placed ?? (taken ? middle : null);
            return (
              <g key={id} class={`transition${taken ? ' taken' : ''}`} data-edge-id={id}>
                <title>{edges.map(edgeLabel).join('\n')}</title>
                <path d={points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x},${p.y}`).join(' ')} marker-end={`url(#${taken ? 'arrow-taken' : 'arrow'})`} />
                {label ? (
                  <text x={label.x} y={label.y + 9} class="edge-label">
                    {label.text}
                  </text>
                ) : null}
              </g>
            );
          })}
        </svg>
      </div>
      <figcaption>
        <span class="legend current">current</span> <span class="legend visited">passed through</span>{' '}
        <span class="legend taken">transition taken</span>
        <p data-testid="chart-current">
          Current state: <strong>{state || 'unknown'}</strong>
        </p>
        <NextMoves graph={graph} state={state} />
        {trail.length > 0 ? (
          <details>
            <summary>Path ({trail.length} transitions)</summary>
            <ol class="trail">{trail.slice(-200).map((s, i) => <li key={i}>{s}</li>)}</ol>
          </details>
        ) : null}
      </figcaption>
    </figure>
  );
}

/** At most this many transitions are listed under "What can happen next". */
const NEXT_SHOWN = 30;

/**
 * The transitions that leave the current state (or one of its parents), in the machine's order:
 * the chart in words, readable whatever the number of arrows.
 */
function NextMoves({ graph, state }: { graph: ChartGraph; state: string }) {
  const from = state.split('.').map((_, i, parts) => parts.slice(0, i + 1).join('.'));
  const next = graph.edges.filter((edge) => edge.target !== null && from.includes(edge.source));
  if (next.length === 0) return null;
  return (
    <details>
      <summary>What can happen next ({next.length} transitions)</summary>
      <ul class="next-moves">
        {next.slice(0, NEXT_SHOWN).map((edge) => (
          <li key={edge.id}>
            <code>{edge.event}</code>
            {edge.guard ? <span class="muted"> if {edge.guard}</span> : null} → {edge.target}
          </li>
        ))}
        {next.length > NEXT_SHOWN ? <li class="muted">and {next.length - NEXT_SHOWN} more</li> : null}
      </ul>
    </details>
  );
}
