/**
 * The `repeat` action (SPEC 2.1): each iteration is a nested run of the repeat's steps (so they
 * follow every rule of SPEC 2: retries, timeouts, failure policy, nesting, pause and cancel with
 * their parent), and after each one its `until` condition is looked at: `count` iterations, or
 * until the condition holds, never more than `max_iterations` (5622 when that is reached first).
 */
import { Codes, SequencerError } from '../domain/errors.ts';
import type { ExecutionContext } from '../executors/executor.ts';
import type { RepeatPlanAction } from '../executors/repeat.executor.ts';
import type { ClosedLoop } from './closed-loop.ts';
import { runNested, type NestedParts } from './nested-runs.ts';

/** Runs a repeat for a parent's attempt; resolves with what it did, throws when an iteration failed or the limit was reached. */
export async function runRepeat(parts: NestedParts, loop: ClosedLoop, action: RepeatPlanAction, context: ExecutionContext): Promise<string> {
  const limit = action.count ?? action.maxIterations;
  let last = '';
  for (let iteration = 1; iteration <= limit; iteration++) {
    // Cancelled or timed out between two iterations: no new one begins.
    if (context.signal.aborted) throw context.signal.reason;
    try {
      await runNested(parts, action, context);
    } catch (error) {
      const code = error instanceof SequencerError ? error.code : Codes.STEP_FAILED;
      throw new SequencerError(code, `Iteration ${iteration} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (action.until === null) continue;
    const run = parts.book.runs.get(context.runId);
    if (!run) throw new SequencerError(Codes.INTERNAL_ERROR, 'Parent run is gone');
    const checked = loop.evaluate(run, action.until, Date.now());
    if (checked.truth === 'true') return `Until held after ${iteration} ${plural(iteration)}: ${checked.message}`;
    last = checked.message;
  }
  if (action.count !== null) return `${action.count} ${plural(action.count)}${action.until === null ? '' : `; until did not hold (${last})`}`;
  throw new SequencerError(Codes.REPEAT_LIMIT, `Reached max_iterations (${action.maxIterations}) before until held: ${last}`);
}

function plural(n: number): string {
  return n === 1 ? 'iteration' : 'iterations';
}
