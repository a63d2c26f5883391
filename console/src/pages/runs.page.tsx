/**
 * The runs page (SPEC 13): every run, newest first, live (status, progress, current step, elapsed,
 * node), filtered by status and sequence_id. The list is virtual: 10,000 runs cost the DOM of the
 * few rows in view, and a batch of events redraws those rows only.
 */
import type { VNode } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { RUN_STATUSES, type Progress } from '../api/types.ts';
import { duration, elapsed } from '../components/format.ts';
import { StatusBadge } from '../components/status-badge.tsx';
import { useVirtualRows } from '../components/use-virtual-rows.ts';
import { now } from '../state/now.ts';
import { runHref } from '../state/router.ts';
import { RunListModel, type ListFilter } from '../state/run-list.ts';
import { onBatch, onRestart, revisions, version } from '../state/runs.store.ts';

const ROW_HEIGHT = 52;

/** The runs page. */
export function RunsPage() {
  const [filter, setFilter] = useState<ListFilter>({ status: 'all', sequenceId: '' });
  const [reload, setReload] = useState(0);
  const model = useMemo(() => new RunListModel(filter), [filter, reload]);
  useEffect(() => onBatch((events) => model.onEvents(events)), [model]);
  useEffect(() => onRestart(() => setReload((n) => n + 1)), []);
  useEffect(() => model.ensure(0), [model]);
  const counts = model.counts.value;
  return (
    <section class="page runs-page" aria-labelledby="runs-title">
      <h1 id="runs-title">Runs</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select
            name="status"
            value={filter.status}
            onChange={(e) => setFilter({ ...filter, status: e.currentTarget.value as ListFilter['status'] })}
          >
            <option value="all">all</option>
            <option value="active">not ended</option>
            {RUN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <SequenceFilter value={filter.sequenceId} onChange={(sequenceId) => setFilter({ ...filter, sequenceId })} />
        {counts ? (
          <p class="counts" aria-live="polite">
            {counts.total} shown · {counts.running} running · {counts.completed} completed · {counts.failed} failed
          </p>
        ) : null}
      </form>
      {model.error.value ? <p class="notice">Cannot read the runs: {model.error.value}</p> : null}
      <RunTable model={model} />
    </section>
  );
}

function SequenceFilter({ value, onChange }: { value: string; onChange(value: string): void }) {
  const [text, setText] = useState(value);
  return (
    <label>
      Sequence id
      <input
        name="sequence_id"
        value={text}
        placeholder="any"
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter') onChange(text.trim());
        }}
        onBlur={() => onChange(text.trim())}
      />
    </label>
  );
}

function RunTable({ model }: { model: RunListModel }) {
  const scrollRef = useRef<HTMLDivElement>(null);
  model.changed.value;
  version.value;
  const count = model.ids.length;
  const virtualizer = useVirtualRows(count, ROW_HEIGHT, scrollRef);
  const items = virtualizer.getVirtualItems();
  for (const item of items) if (model.ids[item.index] === undefined) model.ensure(item.index);
  // A row whose run, place and second did not change is the same vnode, which Preact skips: a
  // batch of events redraws only the rows of the runs it touched.
  const cache = useRef(new Map<number, { key: string; row: VNode }>()).current;
  const second = Math.floor(now.value / 1000);
  const rows = items.map((item) => {
    const run = model.at(item.index);
    const key = `${run?.run_id}:${run ? revisions.get(run.run_id) : -1}:${item.start}:${run?.completed_at ? 0 : second}`;
    const cached = cache.get(item.index);
    if (cached?.key === key) return cached.row;
    const row = <RunRow key={item.key} run={run} index={item.index} top={item.start} now={now.value} />;
    cache.set(item.index, { key, row });
    return row;
  });
  if (cache.size > items.length * 4) for (const index of cache.keys()) if (!items.some((i) => i.index === index)) cache.delete(index);
  return (
    <div class="run-table" role="table" aria-label="Runs" aria-rowcount={count + 1}>
      <div class="run-row head" role="row" aria-rowindex={1}>
        <span role="columnheader">Status</span>
        <span role="columnheader">Run</span>
        <span role="columnheader">Progress</span>
        <span role="columnheader">Current step</span>
        <span role="columnheader">Elapsed</span>
        <span role="columnheader">Node</span>
      </div>
      <div class="run-scroll" ref={scrollRef} tabIndex={0} aria-label="Run list, scrollable">
        {count === 0 && model.counts.value ? <p class="muted empty">No runs match.</p> : null}
        <div style={{ height: `${virtualizer.getTotalSize()}px`, position: 'relative' }}>
          {rows}
        </div>
      </div>
    </div>
  );
}

function RunRow({ run, index, top, now }: { run: Progress | undefined; index: number; top: number; now: number }) {
  const style = { transform: `translateY(${top}px)`, height: `${ROW_HEIGHT}px` };
  if (!run) {
    return (
      <div class="run-row loading" role="row" aria-rowindex={index + 2} style={style}>
        <span role="cell" class="muted">
          loading…
        </span>
      </div>
    );
  }
  const percent = Math.round(run.progress_percent);
  const step = run.total_steps > 0 ? `${Math.min(run.current_step + 1, run.total_steps)}/${run.total_steps}` : '';
  return (
    <div class="run-row" role="row" aria-rowindex={index + 2} style={style} data-run-id={run.run_id} data-status={run.status}>
      <span role="cell">
        <StatusBadge status={run.status} detail={run.status === 'stopping' ? run.ending_as : null} />
      </span>
      <span role="cell" class="run-name">
        <a href={runHref(run.run_id)}>{run.sequence_id}</a>
        <small class="muted">{run.run_id}</small>
      </span>
      <span role="cell">
        <progress max={100} value={percent} aria-label={`${percent} percent`} /> <small>{percent}%</small>
      </span>
      <span role="cell" class="step-cell">
        {run.status === 'completed' ? 'done' : `${step} ${run.current_step_name ?? ''}`}
      </span>
      <span role="cell">{duration(elapsed(run.started_at, run.completed_at, now))}</span>
      <span role="cell" class="muted">
        {run.node ?? '-'}
      </span>
    </div>
  );
}
