/**
 * Snapshots stored by builds before the context was grouped (7d313d0: `pause` and `end` instead of
 * remainingMs, held, restartAttempt, pausedOutputs, outcome, error, errorCode at the top, beside
 * runDeadline and depth) still restore: the paused run gets its outputs back and the rest of its
 * wait; the ending run ends as it was going to.
 */
import { createActor } from 'xstate';
import { describe, expect, it } from 'vitest';
import { sequenceMachine, type PausedOutputsParams, type SequenceContext, type SequencePlan } from '../../machines/sequence.machine.ts';
import { upgradeSnapshot, type PersistedSnapshot } from '../../machines/sequence.snapshot.ts';
import { plan, planStep, waitStep } from '../helpers/definition.builder.ts';

const T0 = 1_000_000;
const HELD = [{ esp_id: 'ESP_1', gpio: 5, command: 'ON' as const, value: 1, duration_seconds: 0 }];

/** The machine with the effects this file looks at recorded. */
function recording() {
  const restored: PausedOutputsParams[] = [];
  const attempts: number[] = [];
  const machine = sequenceMachine.provide({
    actions: {
      restoreOutputs: (_, params) => void restored.push(params),
      runAction: (_, params) => void attempts.push(params.stepIndex),
    },
  });
  return { machine, restored, attempts };
}

/** A snapshot as the builds before the grouped context stored it: the same run, its fields flat. */
function asStoredBefore(snapshot: PersistedSnapshot): PersistedSnapshot {
  const { pause, end, ...rest } = snapshot.context as unknown as SequenceContext;
  const context = {
    ...rest,
    runDeadline: rest.startedAt === null ? null : rest.startedAt + rest.plan.maxDurationMs,
    outcome: end?.outcome ?? null,
    error: end?.message ?? null,
    errorCode: end?.code ?? null,
    remainingMs: pause?.remainingMs ?? null,
    held: pause?.held ?? null,
    restartAttempt: pause?.restartAttempt ?? false,
    depth: 1,
    pausedOutputs: pause?.outputs ?? null,
  };
  return { ...snapshot, context };
}

/** Runs `drive` on a fresh actor and returns its persisted snapshot in the older shape. */
function storedBefore(p: SequencePlan, drive: (send: (event: never) => void) => void): PersistedSnapshot {
  const actor = createActor(recording().machine, { input: { plan: p } }).start();
  drive((event) => actor.send(event));
  const stored = asStoredBefore(actor.getPersistedSnapshot() as PersistedSnapshot);
  actor.stop();
  return stored;
}

describe('snapshots stored before the grouped context', () => {
  it('a run paused with its outputs off gets them back on resume, then waits out what its delay had left', () => {
    const p = plan([waitStep(10_000)]);
    const stored = storedBefore(p, (send) => {
      send({ type: 'START', now: T0 } as never);
      send({ type: 'PAUSE', now: T0 + 4000, outputs: 'off', held: HELD } as never);
    });
    expect(stored.context).toMatchObject({ remainingMs: 6000, pausedOutputs: HELD });

    const { machine, restored } = recording();
    const actor = createActor(machine, { input: { plan: p }, snapshot: upgradeSnapshot(stored) as never }).start();
    expect(actor.getSnapshot().value).toEqual({ paused: 'off' });
    actor.send({ type: 'RESUME', now: T0 + 20_000 });
    expect(restored.map((r) => r.outputs)).toEqual([HELD]);
    actor.send({ type: 'OUTPUTS_RESTORED', now: T0 + 20_010 });
    expect(actor.getSnapshot().value).toEqual({ running: 'delaying' });
    expect(actor.getSnapshot().context).toMatchObject({ deadline: T0 + 26_010, pause: null });
  });

  it('a run timed out in its cleanup still ends timeout, with the code and message it had', () => {
    const p = plan([planStep({ name: 'Main' })], [planStep({ name: 'Close valve' })], 60_000);
    const stored = storedBefore(p, (send) => {
      send({ type: 'START', now: T0 } as never);
      send({ type: 'TIMEOUT', now: T0 + 60_000 } as never);
    });
    expect(stored.context).toMatchObject({ outcome: 'timeout', errorCode: 5613 });

    const { machine } = recording();
    const actor = createActor(machine, { input: { plan: p }, snapshot: upgradeSnapshot(stored) as never }).start();
    expect(actor.getSnapshot().context.end).toEqual({ outcome: 'timeout', code: 5613, message: 'Maximum sequence duration exceeded' });
    const attemptId = actor.getSnapshot().context.attemptId;
    actor.send({ type: 'STEP_DONE', attemptId, now: T0 + 60_100, message: 'closed' });
    expect(actor.getSnapshot().value).toBe('timeout');
  });
});
