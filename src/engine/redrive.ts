/**
 * Redrive (SPEC 7 `POST /sequences/{id}/redrive`, as Step Functions' redrive from the failed
 * state): a run that ended failed or timeout is run again as a new run of the same definition that
 * begins at the step that failed (or `from_step`); the steps before are not run again.
 */
import type { SequenceDefinition } from '../domain/definition.schema.ts';
import { Codes, SequencerError } from '../domain/errors.ts';
import type { StoredRun } from '../store/run-store.ts';
import type { StartOptions } from './engine-options.ts';

/** The statuses a run may be redriven from. */
const REDRIVABLE = new Set(['failed', 'timeout']);

/** 409/5619 for a run that did not end failed or timeout. */
export function notRedrivable(runId: string, status: string): SequencerError {
  return new SequencerError(Codes.INVALID_STATE, `Run ${runId} is ${status}; only a run that ended failed or timeout can be redriven`);
}

/**
 * What a redrive of `stored` starts: its definition, its context, and where it begins (the step
 * that failed or was in flight when it timed out, or `fromStep`). Throws 409/5619 when the run did
 * not end failed or timeout, 422 when its definition no longer passes `validate` (the history keeps
 * it as sent, and today's limits and templates apply to a new run), 422/5600 at `from_step` for a
 * step the definition does not have.
 */
export function redriveOf(
  stored: StoredRun,
  fromStep: number | undefined,
  validate: (sent: unknown) => SequenceDefinition,
): { definition: SequenceDefinition; options: StartOptions } {
  if (!REDRIVABLE.has(stored.status) || !stored.progress) throw notRedrivable(stored.run_id, stored.status);
  const progress = stored.progress;
  const definition = validate(stored.definition);
  const total = definition.steps.length;
  if (fromStep !== undefined && fromStep >= total) {
    const message = `from_step ${fromStep} is past the last step (${total - 1})`;
    throw new SequencerError(Codes.INVALID_DEFINITION, `Invalid redrive: ${message}`, [{ path: 'from_step', code: Codes.INVALID_DEFINITION, message }], 422);
  }
  const from = fromStep ?? Math.min(progress.failed_step ?? progress.current_step, total - 1);
  const template = progress.template ?? undefined;
  return { definition, options: { context: progress.context, template, redrive: { of: stored.run_id, from_step: from }, sent: stored.definition } };
}
