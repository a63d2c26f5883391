/**
 * A run's page (SPEC 13): its status and progress, the actions its state allows, the statechart
 * with its current state and path, the step timeline, its events as they came, and its definition
 * and context. The run is read over REST when the page opens and again after its own events
 * (at most twice a second); the events themselves come from the shared stream.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, get } from '../api/http.ts';
import type { Progress, StreamEvent } from '../api/types.ts';
import { Statechart } from '../chart/statechart.tsx';
import { clock, duration, elapsed } from '../components/format.ts';
import { RunActions } from '../components/run-actions.tsx';
import { RunEvents } from '../components/run-events.tsx';
import { RunOutcome } from '../components/run-outcome.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { StepTimeline } from '../components/step-timeline.tsx';
import { now } from '../state/now.ts';
import { runHref } from '../state/router.ts';
import { onBatch, onRestart, remember, revisions, runEvents, runs, version } from '../state/runs.store.ts';

const NO_EVENTS: readonly StreamEvent[] = [];

/** What a paused run did with its outputs (SPEC 7 `pause {outputs}`), by its state. */
const PAUSED_OUTPUTS: Record<string, string> = {
  'paused.off': 'outputs OFF until resumed',
  'paused.held': 'outputs held as they were',
  'paused.restoring': 'switching its outputs back',
};

/** Props of RunPage. */
export interface RunPageProps {
  id: string;
}

/** The run page. */
export function RunPage({ id }: RunPageProps) {
  const [error, setError] = useState<string | null>(null);
  const [definition, setDefinition] = useState<unknown>(undefined);
  const [runId, setRunId] = useState<string | null>(null);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let alive = true;
    const read = async () => {
      try {
        const [progress] = remember([await get<Progress>(`/sequences/${encodeURIComponent(id)}`)]);
        if (!alive || !progress) return;
        setRunId(progress.run_id);
        setError(null);
        version.value++;
      } catch (e) {
        if (alive) setError(e instanceof ApiError && e.status === 404 ? `No run '${id}' on this server.` : (e as Error).message);
      }
    };
    const soon = () => {
      timer ??= setTimeout(() => {
        timer = undefined;
        void read();
      }, 500);
    };
    void read();
    const stopBatch = onBatch((events) => {
      if (events.some((e) => e.data.run_id === id || e.data.run_id === runId || e.data.sequence_id === id)) soon();
    });
    const stopRestart = onRestart(soon);
    return () => {
      alive = false;
      clearTimeout(timer);
      stopBatch();
      stopRestart();
    };
  }, [id, runId]);
  useEffect(() => {
    if (!runId) return;
    get<{ definition: unknown }>(`/sequences/${encodeURIComponent(runId)}/definition`)
      .then((kept) => setDefinition(kept.definition))
      .catch((e: Error) => setDefinition(e instanceof ApiError && e.status === 404 ? null : new Error(`Could not read it: ${e.message}`)));
  }, [runId]);

  version.value;
  const run = runId ? runs.get(runId) : undefined;
  // The parts below redraw when this run changed (or, for the timeline, each second while it
  // runs), not on every batch of other runs' events: the same vnode tells Preact to skip them.
  const revision = run ? (revisions.get(run.run_id) ?? 0) : -1;
  const second = run?.completed_at ? 0 : Math.floor(now.value / 1000);
  const events = (run && runEvents.get(run.run_id)) ?? NO_EVENTS;
  const chartView = useMemo(() => (run ? <Statechart state={run.state} events={events} /> : null), [revision, run]);
  const timelineView = useMemo(() => (run ? <StepTimeline run={run} events={events} now={now.value} /> : null), [revision, second, run]);
  const eventsView = useMemo(() => <RunEvents events={events} />, [revision, events]);
  if (!run) return <section class="page">{error ? <p class="notice">{error}</p> : <p class="muted">Loading run {id}…</p>}</section>;
  const percent = Math.round(run.progress_percent);
  return (
    <section class="page run-page" aria-labelledby="run-title" data-run-id={run.run_id} data-status={run.status}>
      <p>
        <a href="#/">← Runs</a>
      </p>
      <h1 id="run-title">
        {run.sequence_id} <small class="muted">{run.run_id}</small>
      </h1>
      <div class="run-summary">
        <StatusBadge status={run.status} detail={run.status === 'stopping' ? run.ending_as : null} />
        <span data-testid="run-state">
          state <code>{run.state}</code>
          {PAUSED_OUTPUTS[run.state] ? <strong> · {PAUSED_OUTPUTS[run.state]}</strong> : null}
        </span>
        <span>
          <progress max={100} value={percent} aria-label={`${percent} percent`} /> {percent}% · step{' '}
          {Math.min(run.current_step + 1, run.total_steps)}/{run.total_steps} {run.current_step_name ?? ''}
        </span>
        <span>elapsed {duration(elapsed(run.started_at, run.completed_at, now.value))}</span>
        <span>started {clock(run.started_at)}</span>
        {run.estimated_completion && !run.completed_at ? <span>ends ≈ {clock(run.estimated_completion)}</span> : null}
        {run.node ? <span>node {run.node}</span> : null}
        {run.redrive_of ? (
          <span>
            redrive of <a href={runHref(run.redrive_of)}>{run.redrive_of}</a>
          </span>
        ) : null}
      </div>
      {run.error ? (
        <p class="notice" role="status">
          {run.error_code ? <code>{run.error_code}</code> : null} {run.error}
        </p>
      ) : null}
      <RunOutcome run={run} revision={revision} />
      <RunActions runId={run.run_id} status={run.status} totalSteps={run.total_steps} failedStep={run.failed_step ?? null} />
      <section aria-labelledby="timeline-title" class="panel">
        <h2 id="timeline-title">Steps</h2>
        {timelineView}
      </section>
      <section aria-labelledby="chart-title" class="panel">
        <h2 id="chart-title">Statechart</h2>
        {chartView}
      </section>
      <section aria-labelledby="events-title" class="panel">
        <h2 id="events-title">Events ({events.length})</h2>
        {eventsView}
      </section>
      <section aria-labelledby="definition-title" class="panel">
        <h2 id="definition-title">Definition and context</h2>
        <details>
          <summary>Context</summary>
          <pre>{JSON.stringify(run.context ?? null, null, 2)}</pre>
        </details>
        <details>
          <summary>Definition (as it was sent)</summary>
          <pre>
            {definition === undefined
              ? 'loading…'
              : definition === null
                ? 'Not kept for this run.'
                : definition instanceof Error
                  ? definition.message
                  : JSON.stringify(definition, null, 2)}
          </pre>
        </details>
      </section>
    </section>
  );
}
