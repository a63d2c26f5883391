/**
 * A run's step timeline (SPEC 13): one bar per step and attempt on a common time axis, for the
 * steps and the cleanup, then the safe state. Bars come from the run's `sequence_step` events when
 * the page has them, else from the stored step results (one bar per step, its retries counted).
 * Each bar says its outcome in words and an icon as well as by colour; its times show on hover and
 * to screen readers.
 */
import type { Progress, StepResult, StreamEvent } from '../api/types.ts';
import { clock, dateTime, duration } from './format.ts';
import { SAFE_STATE_WORDS } from './run-outcome.tsx';

type Outcome = 'running' | 'completed' | 'failed' | 'retrying' | 'waiting' | 'skipped' | 'cancelled';

/** One bar. */
interface Bar {
  phase: 'steps' | 'cleanup';
  step: number;
  name: string;
  /** 1 for the first attempt (the events' `attempt` counts retries). */
  attempt: number;
  start: number;
  end: number | null;
  outcome: Outcome;
  message: string;
}

const ICON: Record<Outcome, string> = { running: '▶', completed: '✔', failed: '✖', retrying: '↻', waiting: '…', skipped: '⤼', cancelled: '⊘' };

const ms = (iso: string | null | undefined): number | null => (iso ? new Date(iso).getTime() : null);

function barsFromEvents(events: readonly StreamEvent[]): Bar[] {
  const bars: Bar[] = [];
  const open = new Map<string, Bar>();
  for (const event of events) {
    if (event.type !== 'sequence_step') continue;
    const d = event.data;
    const phase = d.phase === 'cleanup' ? 'cleanup' : 'steps';
    const step = Number(d.step);
    const key = `${phase}:${step}`;
    const at = event.timestamp * 1000;
    const status = String(d.status);
    const current = open.get(key);
    if (status === 'starting' || (status === 'waiting' && !current)) {
      const bar: Bar = { phase, step, name: String(d.step_name), attempt: Number(d.attempt ?? 0) + 1, start: at, end: null, outcome: status === 'waiting' ? 'waiting' : 'running', message: '' };
      bars.push(bar);
      open.set(key, bar);
    } else if (status === 'waiting' && current) {
      current.outcome = 'waiting';
      current.message = String(d.message ?? '');
    } else if (status === 'skipped') {
      bars.push({ phase, step, name: String(d.step_name), attempt: 1, start: at, end: at, outcome: 'skipped', message: String(d.message ?? '') });
    } else if (current) {
      current.end = at;
      current.outcome = status === 'completed' ? 'completed' : status === 'retrying' ? 'retrying' : 'failed';
      current.message = String(d.message ?? '');
      open.delete(key);
      if (status === 'retrying') {
        // No `starting` follows a retry: its bar begins now (its retry delay, then the attempt).
        const next: Bar = { ...current, attempt: Number(d.attempt ?? 0) + 1, start: at, end: null, outcome: 'running', message: '' };
        bars.push(next);
        open.set(key, next);
      }
    }
  }
  return bars;
}

function barsFromResults(results: readonly StepResult[], phase: 'steps' | 'cleanup'): Bar[] {
  return results.map((r) => ({
    phase,
    step: r.step_index,
    name: r.step_name,
    attempt: r.retries + 1,
    start: ms(r.started_at) ?? 0,
    end: ms(r.completed_at),
    outcome: r.skipped ? 'skipped' : r.success ? 'completed' : 'failed',
    message: r.retries > 0 ? `${r.message} (after ${r.retries} retries)` : r.message,
  }));
}

/** Props of StepTimeline. */
export interface StepTimelineProps {
  run: Progress;
  events: readonly StreamEvent[];
  now: number;
}

/** The timeline. */
export function StepTimeline({ run, events, now }: StepTimelineProps) {
  let bars = barsFromEvents(events);
  if (bars.length === 0) bars = [...barsFromResults(run.step_results, 'steps'), ...barsFromResults(run.cleanup_results, 'cleanup')];
  const ended = run.completed_at !== null;
  for (const bar of bars) if (bar.end === null && ended) bar.outcome = bar.outcome === 'running' || bar.outcome === 'waiting' ? 'cancelled' : bar.outcome;
  const start = Math.min(ms(run.started_at) ?? now, ...bars.map((b) => b.start));
  const end = Math.max(ms(run.completed_at) ?? now, ...bars.map((b) => b.end ?? now), start + 1000);
  const span = end - start;
  const pct = (t: number) => `${(((t - start) / span) * 100).toFixed(2)}%`;
  if (bars.length === 0) return <p class="muted">No step has started yet.</p>;
  return (
    <div class="timeline">
      <p class="muted timeline-axis">
        {clock(new Date(start).toISOString())} → {clock(new Date(end).toISOString())} ({duration(span / 1000)})
      </p>
      <ol class="timeline-rows">
        {bars.map((bar, i) => {
          const finish = bar.end ?? now;
          const label = `${bar.phase === 'cleanup' ? 'cleanup ' : ''}step ${bar.step + 1} ${bar.name}, attempt ${bar.attempt}: ${bar.outcome}`;
          const times = `${dateTime(new Date(bar.start).toISOString())} → ${bar.end === null ? 'now' : dateTime(new Date(bar.end).toISOString())} (${duration((finish - bar.start) / 1000)})`;
          return (
            <li key={i} class={`timeline-row ${bar.phase}`} data-outcome={bar.outcome}>
              <span class="timeline-label">
                {bar.phase === 'cleanup' ? <em>cleanup · </em> : null}
                {bar.step + 1}. {bar.name}
                {bar.attempt > 1 ? <small> · attempt {bar.attempt}</small> : null}
              </span>
              <span class="timeline-track">
                <span
                  class={`timeline-bar outcome-${bar.outcome}`}
                  style={{ left: pct(bar.start), width: `max(1.2em, calc(${pct(finish)} - ${pct(bar.start)}))` }}
                  title={`${label}\n${times}${bar.message ? `\n${bar.message}` : ''}`}
                  aria-label={`${label}; ${times}${bar.message ? `; ${bar.message}` : ''}`}
                  role="img"
                >
                  <span aria-hidden="true">{ICON[bar.outcome]}</span>
                </span>
              </span>
              <span class="timeline-outcome">
                {ICON[bar.outcome]} {bar.outcome}
                {/* A wait's message names the reading that ended it; a failure's, the cause. */}
                {bar.message ? <small class="muted"> {bar.message}</small> : null}
              </span>
            </li>
          );
        })}
        {run.safe_state ? (
          <li class="timeline-row safe" data-outcome={`safe-${run.safe_state}`}>
            <span class="timeline-label">safe state</span>
            <span class="timeline-track" />
            <span class="timeline-outcome">
              {SAFE_STATE_WORDS[run.safe_state]}
              {run.safe_state_at ? <small class="muted"> at {clock(run.safe_state_at)}</small> : null}
            </span>
          </li>
        ) : null}
      </ol>
    </div>
  );
}
