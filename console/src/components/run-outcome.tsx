/**
 * How a run is ending or ended, in words (SPEC 5): while `stopping`, what it will end as and that
 * its cleanup and safe state are running; the step that failed or was in flight (`failed_step`);
 * and whether its actuators were confirmed OFF (`safe_state`). Each line shows only when the
 * server sent its field.
 */
import type { Progress } from '../api/types.ts';
import { clock } from './format.ts';

/** `safe_state` in words, with an icon: never colour alone. */
export const SAFE_STATE_WORDS = {
  reached: '✔ actuators OFF',
  failed: '✖ NOT confirmed OFF',
  not_needed: '– not needed',
} as const;

/** How `failed_step` reads for each way a run ends early. */
const ENDED_AT: Record<string, string> = { failed: 'Failed at', cancelled: 'Cancelled during', timeout: 'Timed out during' };

/** The name of step `index`, from its result when it has one. */
function stepName(run: Progress, index: number): string {
  const result = run.step_results.find((r) => r.step_index === index);
  return result?.step_name ?? (index === run.current_step ? (run.current_step_name ?? '') : '');
}

/** Props of RunOutcome. */
export interface RunOutcomeProps {
  run: Progress;
  /** The run's revision: the run is patched in place, so this is what tells Preact it changed. */
  revision: number;
}

/** The outcome lines of a run, or nothing while it runs normally. */
export function RunOutcome({ run }: RunOutcomeProps) {
  const stopping = run.status === 'stopping' && run.ending_as;
  const failedStep = typeof run.failed_step === 'number' ? run.failed_step : null;
  if (!stopping && failedStep === null && !run.safe_state) return null;
  return (
    <ul class="run-outcome" data-testid="run-outcome">
      {stopping ? (
        <li data-field="ending_as">
          Ending as <strong>{run.ending_as}</strong>: its cleanup steps and safe state are running.
        </li>
      ) : null}
      {failedStep !== null ? (
        <li data-field="failed_step">
          {ENDED_AT[(run.status === 'stopping' ? run.ending_as : run.status) ?? ''] ?? 'Stopped at'} step {failedStep + 1} of {run.total_steps}{' '}
          <strong>{stepName(run, failedStep)}</strong>
        </li>
      ) : null}
      {run.safe_state ? (
        <li data-field="safe_state" class={`safe-${run.safe_state}`}>
          Safe state: {SAFE_STATE_WORDS[run.safe_state]}
          {run.safe_state_at ? <small class="muted"> at {clock(run.safe_state_at)}</small> : null}
        </li>
      ) : null}
    </ul>
  );
}
