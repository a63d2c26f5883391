import { describe, expect, it } from 'vitest';
import { machineHarness } from '../helpers/machine.harness.ts';
import { plan, planStep, waitStep } from '../helpers/definition.builder.ts';

const T0 = 1_000_000;

describe('sequence machine: cancel and abort', () => {
  it('CANCEL aborts the action in flight and records the step as failed with 5612', () => {
    const h = machineHarness(plan([planStep({ name: 'Fan' }), planStep()]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'CANCEL', now: T0 + 50, reason: 'operator' });
    expect(h.state()).toBe('cancelled');
    expect(h.counts.abortAction).toBe(1);
    expect(h.context()).toMatchObject({ end: { outcome: 'cancelled', code: 5612, message: 'Cancelled: operator' }, endedAt: T0 + 50 });
    expect(h.context().results).toEqual([expect.objectContaining({ name: 'Fan', code: 5612, message: 'Cancelled: operator', success: false })]);
  });

  it('CANCEL before START ends the run cancelled with no step results', () => {
    const h = machineHarness(plan([planStep()]));
    h.send({ type: 'CANCEL', now: T0, reason: 'never mind' });
    expect(h.state()).toBe('cancelled');
    expect(h.context().results).toEqual([]);
    expect(h.context().end?.code).toBe(5612);
  });

  it('CANCEL during a delay records the wait step as cancelled', () => {
    const h = machineHarness(plan([waitStep(10_000)]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'CANCEL', now: T0 + 3000, reason: 'stop' });
    expect(h.context().results[0]).toMatchObject({ success: false, code: 5612, endedAt: T0 + 3000 });
  });

  it('CANCEL while paused cancels the run', () => {
    const h = machineHarness(plan([waitStep(10_000)]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'PAUSE', now: T0 + 10 });
    h.send({ type: 'CANCEL', now: T0 + 20, reason: 'stop' });
    expect(h.state()).toBe('cancelled');
  });

  it('ABORT ends the run failed with the code it carries', () => {
    const h = machineHarness(plan([planStep()]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'ABORT', now: T0 + 1, code: 5633, message: 'interrupted by a restart' });
    expect(h.state()).toBe('failed');
    expect(h.context().end).toMatchObject({ code: 5633, message: 'interrupted by a restart' });
    expect(h.context().results[0]).toMatchObject({ code: 5633, message: 'interrupted by a restart' });
  });

  it('ABORT while paused ends the run failed', () => {
    const h = machineHarness(plan([waitStep(1000)]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'PAUSE', now: T0 });
    h.send({ type: 'ABORT', now: T0 + 1, code: 5631, message: 'store down' });
    expect(h.state()).toBe('failed');
    expect(h.context().end?.code).toBe(5631);
  });
});

describe('sequence machine: pause and resume', () => {
  it('PAUSE in a delay keeps the remaining time and RESUME waits only that long', () => {
    const h = machineHarness(plan([waitStep(10_000)]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'PAUSE', now: T0 + 4000 });
    expect(h.state()).toBe('paused.held');
    expect(h.resumeTo()).toBe('delaying');
    expect(h.context()).toMatchObject({ pause: { remainingMs: 6000 }, deadline: null });
    expect(h.counts.forwardPause).toBe(1);
    h.send({ type: 'WAKE', now: T0 + 50_000 });
    expect(h.state()).toBe('paused.held');
    h.send({ type: 'RESUME', now: T0 + 60_000 });
    expect(h.state()).toBe('running.delaying');
    expect(h.resumeTo()).toBeNull();
    expect(h.context()).toMatchObject({ deadline: T0 + 66_000, pause: null });
    expect(h.counts.forwardResume).toBe(1);
    h.send({ type: 'WAKE', now: T0 + 65_999 });
    expect(h.state()).toBe('running.delaying');
    h.send({ type: 'WAKE', now: T0 + 66_000 });
    expect(h.state()).toBe('completed');
  });

  it.each([
    ['beforeDelay', planStep({ beforeMs: 1000 }), () => {}],
    ['afterDelay', planStep({ afterMs: 1000 }), (h: ReturnType<typeof machineHarness>) => h.succeed(T0)],
    ['retrying', planStep({ retries: 1, retryDelayMs: 1000 }), (h: ReturnType<typeof machineHarness>) => h.fail(T0)],
  ] as const)('PAUSE in %s resumes into the same substate with its remaining time', (substate, step, setup) => {
    const h = machineHarness(plan([step, planStep()]));
    h.send({ type: 'START', now: T0 });
    setup(h);
    expect(h.state()).toBe(`running.${substate}`);
    h.send({ type: 'PAUSE', now: T0 + 400 });
    expect(h.context().pause?.remainingMs).toBe(600);
    h.send({ type: 'RESUME', now: T0 + 5000 });
    expect(h.state()).toBe(`running.${substate}`);
    expect(h.context().deadline).toBe(T0 + 5600);
  });

  it('PAUSE while an action runs keeps the rest of its attempt time and forwards the pause', () => {
    const h = machineHarness(plan([planStep({ timeoutMs: 3000 })]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'PAUSE', now: T0 + 1000 });
    expect(h.resumeTo()).toBe('executing');
    expect(h.context()).toMatchObject({ pause: { remainingMs: 2000 } });
    expect(h.counts.abortAction).toBe(0);
    h.send({ type: 'RESUME', now: T0 + 9000 });
    expect(h.state()).toBe('running.executing');
    expect(h.context().deadline).toBe(T0 + 11_000);
    expect(h.attempts).toHaveLength(1);
  });

  it('holds a STEP_DONE that arrives while paused and applies it on resume', () => {
    const h = machineHarness(plan([planStep(), planStep({ name: 'B' })]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'PAUSE', now: T0 + 10 });
    h.succeed(T0 + 20, 'done while paused');
    expect(h.state()).toBe('paused.held');
    expect(h.context().pause?.held ?? null).toMatchObject({ type: 'STEP_DONE', message: 'done while paused' });
    expect(h.context().results).toHaveLength(0);
    h.send({ type: 'RESUME', now: T0 + 100 });
    expect(h.state()).toBe('running.executing');
    expect(h.context().currentStep).toBe(1);
    expect(h.context().results[0]).toMatchObject({ success: true, message: 'done while paused' });
    expect(h.context().pause?.held ?? null).toBeNull();
  });

  it('holds a STEP_FAILED that arrives while paused and applies the failure policy on resume', () => {
    const h = machineHarness(plan([planStep()]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'PAUSE', now: T0 + 10 });
    h.fail(T0 + 20, 5640, 'locked');
    expect(h.state()).toBe('paused.held');
    h.send({ type: 'RESUME', now: T0 + 30 });
    expect(h.state()).toBe('failed');
    expect(h.context().end?.code).toBe(5640);
  });

  it('ignores a stale answer while paused', () => {
    const h = machineHarness(plan([planStep()]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'PAUSE', now: T0 + 10 });
    h.send({ type: 'STEP_DONE', attemptId: 99, now: T0 + 20, message: 'stale' });
    expect(h.context().pause?.held ?? null).toBeNull();
  });

  it('does not hold a late answer of an abandoned attempt while paused between steps', () => {
    const h = machineHarness(plan([planStep({ timeoutMs: 1000, onFailure: 'continue' }), waitStep(5000)]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'WAKE', now: T0 + 1000 });
    expect(h.state()).toBe('running.delaying');
    h.send({ type: 'PAUSE', now: T0 + 1100 });
    h.send({ type: 'STEP_DONE', attemptId: 1, now: T0 + 1200, message: 'late' });
    expect(h.context().pause?.held ?? null).toBeNull();
    h.send({ type: 'RESUME', now: T0 + 2000 });
    expect(h.state()).toBe('running.delaying');
    expect(h.context().results).toHaveLength(1);
  });

  it('ignores PAUSE outside running and RESUME outside paused', () => {
    const h = machineHarness(plan([waitStep(1000)]));
    h.send({ type: 'PAUSE', now: T0 });
    expect(h.state()).toBe('idle');
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'RESUME', now: T0 });
    expect(h.state()).toBe('running.delaying');
  });
});

describe('sequence machine: recovery after a restart', () => {
  it('RECOVER in executing sends an idempotent action again with a new attempt', () => {
    const h = machineHarness(plan([planStep({ action: { type: 'act', idempotent: true }, timeoutMs: 1000 })]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'RECOVER', now: T0 + 5000 });
    expect(h.state()).toBe('running.executing');
    expect(h.attempts.map((a) => a.attemptId)).toEqual([1, 2]);
    expect(h.context().deadline).toBe(T0 + 6000);
    h.send({ type: 'STEP_DONE', attemptId: 1, now: T0 + 5001, message: 'old' });
    expect(h.state()).toBe('running.executing');
  });

  it('RECOVER in executing fails a non-idempotent action with 5633 and does not retry it', () => {
    const h = machineHarness(plan([planStep({ retries: 3 })]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'RECOVER', now: T0 + 5000 });
    expect(h.state()).toBe('failed');
    expect(h.context().results[0]).toMatchObject({ code: 5633, message: 'Action was in flight when the server stopped' });
    expect(h.attempts).toHaveLength(1);
  });

  it('RECOVER while paused in executing holds a 5633 failure for the resume', () => {
    const h = machineHarness(plan([planStep()]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'PAUSE', now: T0 + 1 });
    h.send({ type: 'RECOVER', now: T0 + 2 });
    expect(h.context().pause?.held ?? null).toMatchObject({ type: 'STEP_FAILED', code: 5633 });
    h.send({ type: 'RESUME', now: T0 + 3 });
    expect(h.state()).toBe('failed');
    expect(h.context().end?.code).toBe(5633);
  });

  it('RECOVER while paused in executing restarts an idempotent action on resume', () => {
    const h = machineHarness(plan([planStep({ action: { type: 'act', idempotent: true } })]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'PAUSE', now: T0 + 1 });
    h.send({ type: 'RECOVER', now: T0 + 2 });
    expect(h.context().pause?.restartAttempt).toBe(true);
    h.send({ type: 'RESUME', now: T0 + 3 });
    expect(h.state()).toBe('running.executing');
    expect(h.attempts.map((a) => a.attemptId)).toEqual([1, 2]);
    expect(h.context().pause).toBeNull();
    expect(h.counts.forwardResume).toBe(1);
  });

  it('RECOVER while paused in a delay changes nothing', () => {
    const h = machineHarness(plan([waitStep(1000)]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'PAUSE', now: T0 + 100 });
    h.send({ type: 'RECOVER', now: T0 + 200 });
    expect(h.context().pause).toMatchObject({ held: null, restartAttempt: false });
    h.send({ type: 'RESUME', now: T0 + 300 });
    expect(h.context().deadline).toBe(T0 + 1200);
  });
});

describe('sequence machine: cleanup steps', () => {
  const cleanupPlan = () =>
    plan([planStep({ name: 'Main' }), planStep()], [planStep({ name: 'Close valve' }), planStep({ name: 'Safe state', retries: 0 })]);

  it('after a failure it runs the cleanup steps and then ends failed', () => {
    const h = machineHarness(cleanupPlan());
    h.send({ type: 'START', now: T0 });
    h.fail(T0 + 1);
    expect(h.state()).toBe('cleanup.executing');
    expect(h.context()).toMatchObject({ phase: 'cleanup', currentStep: 0, end: { outcome: 'failed' } });
    expect(h.lastAttempt()).toMatchObject({ phase: 'cleanup', stepIndex: 0, step: expect.objectContaining({ name: 'Close valve' }) });
    h.succeed(T0 + 2);
    h.succeed(T0 + 3);
    expect(h.state()).toBe('failed');
    expect(h.context().cleanupResults.map((r) => r.name)).toEqual(['Close valve', 'Safe state']);
    expect(h.context().results).toHaveLength(1);
    // The run ends when its actuators are safe, not when its step failed.
    expect(h.context().endedAt).toBe(T0 + 3);
  });

  it('after a cancel it runs the cleanup steps and then ends cancelled', () => {
    const h = machineHarness(cleanupPlan());
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'CANCEL', now: T0 + 1, reason: 'stop' });
    expect(h.state()).toBe('cleanup.executing');
    expect(h.context().results[0]).toMatchObject({ code: 5612 });
    h.succeed(T0 + 2);
    h.succeed(T0 + 3);
    expect(h.state()).toBe('cancelled');
  });

  it('after a timeout it runs the cleanup steps and then ends timeout', () => {
    const h = machineHarness(cleanupPlan());
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'TIMEOUT', now: T0 + 1 });
    h.succeed(T0 + 2);
    h.succeed(T0 + 3);
    expect(h.state()).toBe('timeout');
    expect(h.context().end?.code).toBe(5613);
  });

  it('after a cancel while paused it runs the cleanup steps', () => {
    const h = machineHarness(cleanupPlan());
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'PAUSE', now: T0 + 1 });
    h.send({ type: 'CANCEL', now: T0 + 2, reason: 'stop' });
    expect(h.state()).toBe('cleanup.executing');
  });

  it('a failing cleanup step never loops: the next cleanup step runs and the run still ends', () => {
    const h = machineHarness(cleanupPlan());
    h.send({ type: 'START', now: T0 });
    h.fail(T0 + 1);
    h.fail(T0 + 2, 5614, 'valve stuck');
    expect(h.state()).toBe('cleanup.executing');
    expect(h.context().currentStep).toBe(1);
    h.send({ type: 'WAKE', now: T0 + 60_000 });
    expect(h.state()).toBe('failed');
    expect(h.context().cleanupResults.map((r) => [r.success, r.code])).toEqual([
      [false, 5614],
      [false, 5615],
    ]);
    expect(h.context().end?.code).toBe(5614);
    expect(h.stepStatuses().filter((s) => s.startsWith('cleanup'))).toEqual([
      'cleanup:0:starting',
      'cleanup:0:failed',
      'cleanup:1:starting',
      'cleanup:1:failed',
    ]);
  });

  it('ignores CANCEL, TIMEOUT and PAUSE while the cleanup runs', () => {
    const h = machineHarness(cleanupPlan());
    h.send({ type: 'START', now: T0 });
    h.fail(T0 + 1);
    h.send({ type: 'CANCEL', now: T0 + 2, reason: 'again' });
    h.send({ type: 'TIMEOUT', now: T0 + 3 });
    h.send({ type: 'PAUSE', now: T0 + 4 });
    expect(h.state()).toBe('cleanup.executing');
    expect(h.context().end?.outcome).toBe('failed');
    expect(h.counts.abortAction).toBe(0);
  });

  it('cleanup steps keep their own delays', () => {
    const h = machineHarness(plan([planStep()], [waitStep(500, { beforeMs: 100, afterMs: 200 })]));
    h.send({ type: 'START', now: T0 });
    h.fail(T0);
    expect(h.state()).toBe('cleanup.beforeDelay');
    h.send({ type: 'WAKE', now: T0 + 100 });
    expect(h.state()).toBe('cleanup.delaying');
    h.send({ type: 'WAKE', now: T0 + 600 });
    expect(h.state()).toBe('cleanup.afterDelay');
    h.send({ type: 'WAKE', now: T0 + 800 });
    expect(h.state()).toBe('failed');
  });

  it('a run that completes never runs its cleanup steps', () => {
    const h = machineHarness(cleanupPlan());
    h.send({ type: 'START', now: T0 });
    h.succeed(T0 + 1);
    h.succeed(T0 + 2);
    expect(h.state()).toBe('completed');
    expect(h.context().cleanupResults).toEqual([]);
  });
});
