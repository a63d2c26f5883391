/**
 * What an operator can do to a run in its state (SPEC 13): pause with its outputs off or held,
 * resume, cancel with a reason, send a signal (a name and optional JSON data, for a step that
 * waits for it), redrive a failed or timed-out run from its failed step (or another) as a new run;
 * each but resume is confirmed in a small form first. A viewer sees none of it.
 */
import { useState } from 'preact/hooks';
import { post } from '../api/http.ts';
import type { RunStatus } from '../api/types.ts';
import { runHref } from '../state/router.ts';
import { canAct } from '../state/session.ts';

type Form = 'pause' | 'cancel' | 'signal' | 'redrive' | null;
type Action = Exclude<Form, null> | 'resume';

/** Props of RunActions. */
export interface RunActionsProps {
  runId: string;
  status: RunStatus;
  totalSteps: number;
  /** The step that failed or was in flight when the run ended early. */
  failedStep: number | null;
}

/** The action bar of a run. */
export function RunActions({ runId, status, totalSteps, failedStep }: RunActionsProps) {
  const [form, setForm] = useState<Form>(null);
  // The actions whose answer is awaited: each blocks only itself, so a cancel is never held up
  // by a resume or a signal still on its way.
  const [busy, setBusy] = useState<ReadonlySet<Action>>(new Set());
  const [message, setMessage] = useState<string | null>(null);
  if (!canAct()) return null;
  const id = encodeURIComponent(runId);
  const live = status === 'running' || status === 'pending' || status === 'paused';
  const send = async (action: Action, body?: unknown) => {
    setBusy((now) => new Set(now).add(action));
    setMessage(null);
    try {
      const answer = await post<{ run_id?: string }>(`/sequences/${id}/${action}`, body);
      // The run's own events bring the page its new state; a redrive is a new run, shown at once.
      // Only this action's form closes: one opened meanwhile (a resume answered late) stays open.
      setForm((open) => (open === action ? null : open));
      if (action === 'redrive' && answer.run_id) location.hash = runHref(answer.run_id);
    } catch (error) {
      setMessage(`${action} refused: ${(error as Error).message}`);
    } finally {
      setBusy((now) => {
        const rest = new Set(now);
        rest.delete(action);
        return rest;
      });
    }
  };
  return (
    <div class="run-actions" role="group" aria-label="Run actions" aria-busy={busy.size > 0}>
      {status === 'running' ? (
        <button type="button" onClick={() => setForm(form === 'pause' ? null : 'pause')} aria-expanded={form === 'pause'}>
          ‖ Pause…
        </button>
      ) : null}
      {status === 'paused' ? (
        <button type="button" disabled={busy.has('resume')} onClick={() => void send('resume')}>
          ▶ Resume
        </button>
      ) : null}
      {live ? (
        <button type="button" class="danger" onClick={() => setForm(form === 'cancel' ? null : 'cancel')} aria-expanded={form === 'cancel'}>
          ⊘ Cancel…
        </button>
      ) : null}
      {status === 'running' || status === 'paused' ? (
        <button type="button" onClick={() => setForm(form === 'signal' ? null : 'signal')} aria-expanded={form === 'signal'}>
          ✉ Signal…
        </button>
      ) : null}
      {status === 'failed' || status === 'timeout' ? (
        <button type="button" onClick={() => setForm(form === 'redrive' ? null : 'redrive')} aria-expanded={form === 'redrive'}>
          ↻ Redrive…
        </button>
      ) : null}
      {form === 'pause' ? <PauseForm busy={busy.has('pause')} onSubmit={(outputs) => void send('pause', { outputs })} /> : null}
      {form === 'cancel' ? <CancelForm busy={busy.has('cancel')} onSubmit={(reason) => void send('cancel', reason ? { reason } : {})} /> : null}
      {form === 'signal' ? <SignalForm busy={busy.has('signal')} onSubmit={(body) => void send('signal', body)} onError={setMessage} /> : null}
      {form === 'redrive' ? (
        <RedriveForm totalSteps={totalSteps} failedStep={failedStep} busy={busy.has('redrive')} onSubmit={(fromStep) => void send('redrive', fromStep === null ? {} : { from_step: fromStep })} />
      ) : null}
      {message ? (
        <p class="notice" role="alert">
          {message}
        </p>
      ) : null}
    </div>
  );
}

function PauseForm({ busy, onSubmit }: { busy: boolean; onSubmit(outputs: 'off' | 'hold'): void }) {
  const [outputs, setOutputs] = useState<'off' | 'hold'>('off');
  return (
    <form class="action-form" onSubmit={(e) => (e.preventDefault(), onSubmit(outputs))}>
      <fieldset>
        <legend>Outputs while paused</legend>
        <label>
          <input type="radio" name="outputs" value="off" checked={outputs === 'off'} onChange={() => setOutputs('off')} /> off (turned back on at resume)
        </label>
        <label>
          <input type="radio" name="outputs" value="hold" checked={outputs === 'hold'} onChange={() => setOutputs('hold')} /> hold as they are
        </label>
      </fieldset>
      <button type="submit" disabled={busy}>
        Pause the run
      </button>
    </form>
  );
}

function CancelForm({ busy, onSubmit }: { busy: boolean; onSubmit(reason: string): void }) {
  const [reason, setReason] = useState('');
  return (
    <form class="action-form" onSubmit={(e) => (e.preventDefault(), onSubmit(reason.trim()))}>
      <label>
        Reason
        <input name="reason" maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} placeholder="Why it is cancelled" />
      </label>
      <button type="submit" class="danger" disabled={busy}>
        Cancel the run
      </button>
    </form>
  );
}

function SignalForm({ busy, onSubmit, onError }: { busy: boolean; onSubmit(body: { name: string; data?: unknown }): void; onError(message: string): void }) {
  const [name, setName] = useState('');
  const [data, setData] = useState('');
  return (
    <form
      class="action-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (!data.trim()) return onSubmit({ name: name.trim() });
        try {
          onSubmit({ name: name.trim(), data: JSON.parse(data) });
        } catch {
          onError('data is not valid JSON');
        }
      }}
    >
      <label>
        Signal name
        <input name="signal" required maxLength={64} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label>
        Data (JSON, optional)
        <input name="data" value={data} onInput={(e) => setData(e.currentTarget.value)} />
      </label>
      <button type="submit" disabled={busy}>
        Send the signal
      </button>
    </form>
  );
}

function RedriveForm({ totalSteps, failedStep, busy, onSubmit }: { totalSteps: number; failedStep: number | null; busy: boolean; onSubmit(fromStep: number | null): void }) {
  const [from, setFrom] = useState<string>('');
  return (
    <form class="action-form" onSubmit={(e) => (e.preventDefault(), onSubmit(from === '' ? null : Number(from)))}>
      <label>
        Start again at
        <select name="from_step" value={from} onChange={(e) => setFrom(e.currentTarget.value)}>
          <option value="">{failedStep === null ? 'the step that failed' : `the step that failed (${failedStep + 1})`}</option>
          {Array.from({ length: totalSteps }, (_, i) => (
            <option key={i} value={String(i)}>
              step {i + 1}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={busy}>
        Start a new run
      </button>
    </form>
  );
}
