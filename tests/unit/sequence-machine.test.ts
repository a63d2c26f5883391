import { describe, expect, it } from 'vitest';
import { MachineCodes, retryDelayMs, runDeadline, sequenceMachine } from '../../machines/sequence.machine.ts';
import type { StepOutcome } from '../../machines/sequence.types.ts';
import { machineHarness } from '../helpers/machine.harness.ts';
import { plan, planStep, waitForStep, waitStep } from '../helpers/definition.builder.ts';

const T0 = 1_000_000;

describe('sequence machine: starting and walking the steps', () => {
  it('waits in idle with step 0 as the current step and runs nothing until START', () => {
    const h = machineHarness(plan([planStep()]));
    expect(h.state()).toBe('idle');
    expect(h.context().currentStep).toBe(0);
    expect(h.attempts).toHaveLength(0);
  });

  it('when started it runs the first action with a deadline of now plus the step timeout', () => {
    const h = machineHarness(plan([planStep({ timeoutMs: 5000 })], [], 60_000));
    h.send({ type: 'START', now: T0 });
    expect(h.state()).toBe('running.executing');
    expect(h.context()).toMatchObject({ startedAt: T0, deadline: T0 + 5000, attemptId: 1 });
    expect(runDeadline(h.context())).toBe(T0 + 60_000);
    expect(h.lastAttempt()).toMatchObject({ attemptId: 1, phase: 'steps', stepIndex: 0, attempt: 0, deadline: T0 + 5000 });
    expect(h.stepStatuses()).toEqual(['steps:0:starting']);
  });

  it('when the last step succeeds it completes with the results as output', () => {
    const h = machineHarness(plan([planStep({ name: 'A' }), planStep({ name: 'B' })]));
    h.send({ type: 'START', now: T0 });
    h.succeed(T0 + 10, 'A done');
    expect(h.context().currentStep).toBe(1);
    h.succeed(T0 + 30, 'B done');
    expect(h.state()).toBe('completed');
    const snapshot = h.actor.getSnapshot();
    expect(snapshot.status).toBe('done');
    expect(snapshot.context.endedAt).toBe(T0 + 30);
    expect(snapshot.output).toMatchObject({ end: null });
    expect((snapshot.output as { results: StepOutcome[] }).results.map((r) => [r.name, r.success, r.message, r.endedAt - r.startedAt])).toEqual([
      ['A', true, 'A done', 10],
      ['B', true, 'B done', 20],
    ]);
    expect(h.stepStatuses()).toEqual(['steps:0:starting', 'steps:0:completed', 'steps:1:starting', 'steps:1:completed']);
  });

  // XState's assign copies the context with Object.assign({}, ...): off V8's fast path, a copy of
  // more than 19 fields becomes a dictionary, 1.6 KB of hash table a run (see SequenceContext).
  it('keeps its context within 19 fields through a pause, a held answer and an early end', () => {
    const h = machineHarness(plan([planStep(), waitStep(1000)], [planStep({ name: 'Close valve' })]));
    const sizes: number[] = [];
    h.actor.subscribe((snapshot) => void sizes.push(Object.keys(snapshot.context).length));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'PAUSE', now: T0 + 1 });
    h.succeed(T0 + 2, 'done while paused');
    h.send({ type: 'RESUME', now: T0 + 3 });
    h.send({ type: 'CANCEL', reason: 'operator', now: T0 + 4 });
    expect(h.state()).toBe('cleanup.executing');
    expect(sizes.length).toBeGreaterThan(4);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(19);
  });

  it('a pure wait step waits in delaying until WAKE at its deadline and ignores an early WAKE', () => {
    const h = machineHarness(plan([waitStep(2000)]));
    h.send({ type: 'START', now: T0 });
    expect(h.state()).toBe('running.delaying');
    expect(h.context().deadline).toBe(T0 + 2000);
    h.send({ type: 'WAKE', now: T0 + 1999 });
    expect(h.state()).toBe('running.delaying');
    h.send({ type: 'WAKE', now: T0 + 2000 });
    expect(h.state()).toBe('completed');
    expect(h.context().results[0]).toMatchObject({ success: true, message: 'Waited 2 s' });
    expect(h.attempts).toHaveLength(0);
  });

  it('a before-delay runs in beforeDelay and then starts the action', () => {
    const h = machineHarness(plan([planStep({ beforeMs: 1000, timeoutMs: 500 })]));
    h.send({ type: 'START', now: T0 });
    expect(h.state()).toBe('running.beforeDelay');
    expect(h.stepStatuses()).toEqual(['steps:0:starting']);
    h.send({ type: 'WAKE', now: T0 + 999 });
    expect(h.state()).toBe('running.beforeDelay');
    h.send({ type: 'WAKE', now: T0 + 1000 });
    expect(h.state()).toBe('running.executing');
    expect(h.lastAttempt().deadline).toBe(T0 + 1500);
    // The step's duration counts from its before-delay.
    h.succeed(T0 + 1100);
    expect(h.context().results[0]).toMatchObject({ startedAt: T0, endedAt: T0 + 1100 });
  });

  it('a before-delay on a wait step leads into delaying', () => {
    const h = machineHarness(plan([waitStep(300, { beforeMs: 200 })]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'WAKE', now: T0 + 200 });
    expect(h.state()).toBe('running.delaying');
    expect(h.context().deadline).toBe(T0 + 500);
    h.send({ type: 'WAKE', now: T0 + 500 });
    expect(h.state()).toBe('completed');
  });

  it('an after-delay holds the run in afterDelay before the next step', () => {
    const h = machineHarness(plan([planStep({ afterMs: 700 }), planStep({ name: 'B' })]));
    h.send({ type: 'START', now: T0 });
    h.succeed(T0 + 100);
    expect(h.state()).toBe('running.afterDelay');
    expect(h.context().deadline).toBe(T0 + 800);
    h.send({ type: 'WAKE', now: T0 + 799 });
    expect(h.state()).toBe('running.afterDelay');
    h.send({ type: 'WAKE', now: T0 + 800 });
    expect(h.state()).toBe('running.executing');
    expect(h.context().currentStep).toBe(1);
  });
});

describe('sequence machine: failure policy', () => {
  it('when a step with abort fails it ends the run failed with the step error', () => {
    const h = machineHarness(plan([planStep({ name: 'Valve' }), planStep()]));
    h.send({ type: 'START', now: T0 });
    h.fail(T0 + 5, 5614, 'device refused');
    expect(h.state()).toBe('failed');
    expect(h.context()).toMatchObject({ end: { outcome: 'failed', code: 5614, message: "Step 'Valve' failed: device refused" }, endedAt: T0 + 5 });
    expect(h.context().results).toHaveLength(1);
    expect(h.stepStatuses()).toEqual(['steps:0:starting', 'steps:0:failed']);
    expect(h.steps[1]).toMatchObject({ success: false, errorCode: 5614, durationMs: 5 });
  });

  it('when a step with continue fails it records the failure and goes on to the next step', () => {
    const h = machineHarness(plan([planStep({ onFailure: 'continue' }), planStep({ name: 'B' })]));
    h.send({ type: 'START', now: T0 });
    h.fail(T0 + 5);
    expect(h.state()).toBe('running.executing');
    expect(h.context().currentStep).toBe(1);
    h.succeed(T0 + 10);
    expect(h.state()).toBe('completed');
    expect(h.context().results.map((r) => r.success)).toEqual([false, true]);
  });

  it('a continue step that fails still waits its after-delay', () => {
    const h = machineHarness(plan([planStep({ onFailure: 'continue', afterMs: 100 }), planStep()]));
    h.send({ type: 'START', now: T0 });
    h.fail(T0);
    expect(h.state()).toBe('running.afterDelay');
  });

  it('with retries it retries a failed attempt and completes when a later attempt succeeds', () => {
    const h = machineHarness(plan([planStep({ retries: 3, retryDelayMs: 1000 })]));
    h.send({ type: 'START', now: T0 });
    h.fail(T0 + 10);
    expect(h.state()).toBe('running.retrying');
    expect(h.context()).toMatchObject({ attempt: 1, deadline: T0 + 1010 });
    expect(h.steps[1]).toMatchObject({ status: 'retrying', attempt: 1, message: 'device refused', errorCode: 5614 });
    h.send({ type: 'WAKE', now: T0 + 1009 });
    expect(h.state()).toBe('running.retrying');
    h.send({ type: 'WAKE', now: T0 + 1010 });
    expect(h.state()).toBe('running.executing');
    expect(h.lastAttempt()).toMatchObject({ attemptId: 2, attempt: 1 });
    h.succeed(T0 + 1020);
    expect(h.state()).toBe('completed');
    expect(h.context().results[0]).toMatchObject({ success: true, retries: 1, startedAt: T0 });
  });

  it('after its retries are spent the step follows its policy and records how often it retried', () => {
    const h = machineHarness(plan([planStep({ retries: 2, retryDelayMs: 100 })]));
    h.send({ type: 'START', now: T0 });
    let now = T0;
    for (let i = 0; i < 2; i++) {
      h.fail(now);
      now += 100;
      h.send({ type: 'WAKE', now });
    }
    h.fail(now);
    expect(h.state()).toBe('failed');
    expect(h.attempts).toHaveLength(3);
    expect(h.context().results[0]).toMatchObject({ success: false, retries: 2, code: 5614 });
    expect(h.stepStatuses()).toEqual(['steps:0:starting', 'steps:0:retrying', 'steps:0:retrying', 'steps:0:failed']);
  });

  it('with backoff the pauses between attempts are 1, 2 and 4 s', () => {
    const h = machineHarness(plan([planStep({ retries: 3, retryDelayMs: 1000, backoff: true, onFailure: 'continue' })]));
    h.send({ type: 'START', now: T0 });
    const pauses: number[] = [];
    let now = T0;
    for (let i = 0; i < 3; i++) {
      h.fail(now);
      const deadline = h.context().deadline as number;
      pauses.push(deadline - now);
      now = deadline;
      h.send({ type: 'WAKE', now });
    }
    expect(pauses).toEqual([1000, 2000, 4000]);
    h.fail(now);
    expect(h.state()).toBe('completed');
  });

  it('without backoff every pause is the retry delay', () => {
    const step = planStep({ retryDelayMs: 1500 });
    expect([1, 2, 3].map((n) => retryDelayMs(step, n))).toEqual([1500, 1500, 1500]);
    expect([1, 2, 3].map((n) => retryDelayMs({ ...step, backoff: true }, n))).toEqual([1500, 3000, 6000]);
  });
});

describe('sequence machine: step timeout', () => {
  it('when a step times out it aborts the action, fails the step with 5615 and aborts the run', () => {
    const h = machineHarness(plan([planStep({ timeoutMs: 2000 })]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'WAKE', now: T0 + 1999 });
    expect(h.state()).toBe('running.executing');
    expect(h.counts.abortAction).toBe(0);
    h.send({ type: 'WAKE', now: T0 + 2000 });
    expect(h.counts.abortAction).toBe(1);
    expect(h.state()).toBe('failed');
    expect(h.context().results[0]).toMatchObject({ success: false, code: MachineCodes.STEP_TIMEOUT, message: expect.stringContaining('Step timed out') });
    expect(h.context().end?.code).toBe(5615);
  });

  it('a timed-out attempt is retried with a fresh deadline', () => {
    const h = machineHarness(plan([planStep({ timeoutMs: 2000, retries: 1, retryDelayMs: 500 })]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'WAKE', now: T0 + 2000 });
    expect(h.state()).toBe('running.retrying');
    h.send({ type: 'WAKE', now: T0 + 2500 });
    expect(h.lastAttempt()).toMatchObject({ attemptId: 2, deadline: T0 + 4500 });
  });

  it('ignores a late STEP_DONE of an abandoned attempt and takes the answer of the current one', () => {
    const h = machineHarness(plan([planStep({ timeoutMs: 2000, retries: 1, retryDelayMs: 500 })]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'WAKE', now: T0 + 2000 });
    h.send({ type: 'STEP_DONE', attemptId: 1, now: T0 + 2100, message: 'late' });
    expect(h.state()).toBe('running.retrying');
    h.send({ type: 'WAKE', now: T0 + 2500 });
    h.send({ type: 'STEP_DONE', attemptId: 1, now: T0 + 2600, message: 'late again' });
    h.send({ type: 'STEP_FAILED', attemptId: 1, now: T0 + 2600, message: 'late', code: 5614 });
    expect(h.state()).toBe('running.executing');
    h.send({ type: 'STEP_DONE', attemptId: 2, now: T0 + 2700, message: 'fresh' });
    expect(h.state()).toBe('completed');
    expect(h.context().results[0]).toMatchObject({ success: true, message: 'fresh', retries: 1 });
  });
});

describe('sequence machine: max duration', () => {
  it('TIMEOUT fails the step in flight with 5616, aborts it and ends the run timeout with 5613', () => {
    const h = machineHarness(plan([planStep({ name: 'Pump' }), planStep()], [], 10_000));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'TIMEOUT', now: T0 + 10_000 });
    expect(h.state()).toBe('timeout');
    expect(h.counts.abortAction).toBe(1);
    expect(h.context().end).toEqual({ outcome: 'timeout', code: MachineCodes.TIMEOUT, message: 'Maximum sequence duration exceeded' });
    expect(h.context().results).toEqual([expect.objectContaining({ name: 'Pump', success: false, code: MachineCodes.MAX_DURATION_EXCEEDED })]);
    expect(h.stepStatuses()).toEqual(['steps:0:starting', 'steps:0:failed']);
  });

  it('counts pauses: the run deadline is not moved by PAUSE and RESUME, and TIMEOUT while paused ends it', () => {
    const h = machineHarness(plan([waitStep(5000)], [], 10_000));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'PAUSE', now: T0 + 1000 });
    h.send({ type: 'RESUME', now: T0 + 6000 });
    expect(runDeadline(h.context())).toBe(T0 + 10_000);
    h.send({ type: 'PAUSE', now: T0 + 7000 });
    h.send({ type: 'TIMEOUT', now: T0 + 10_000 });
    expect(h.state()).toBe('timeout');
    expect(h.context().results[0]).toMatchObject({ success: false, code: 5616 });
    expect(h.resumeTo()).toBeNull();
    expect(h.context().pause).toBeNull();
  });

  it('does not record a second failure when the step in flight was already recorded', () => {
    const h = machineHarness(plan([planStep({ afterMs: 5000 }), planStep()], [], 10_000));
    h.send({ type: 'START', now: T0 });
    h.succeed(T0 + 10);
    expect(h.state()).toBe('running.afterDelay');
    h.send({ type: 'TIMEOUT', now: T0 + 10_000 });
    expect(h.context().results.map((r) => r.success)).toEqual([true]);
  });
});

describe('sequence machine: the whole chart', () => {
  type Node = { key: string; type: string; states: Record<string, unknown> };
  /** Every leaf state of the chart as a dotted string (a history node is a pseudo-state: no run is ever in it). */
  function leaves(node: Node, prefix = ''): string[] {
    const children = (Object.values(node.states) as Node[]).filter((child) => child.type !== 'history');
    if (children.length === 0) return [prefix];
    return children.flatMap((child) => leaves(child, prefix ? `${prefix}.${child.key}` : child.key));
  }

  it('a cleanup step retries like any step and a cleanup action lost to a restart is not sent again', () => {
    const h = machineHarness(plan([planStep()], [planStep({ retries: 1, retryDelayMs: 100 })]));
    h.send({ type: 'START', now: T0 });
    h.fail(T0);
    h.fail(T0 + 1);
    expect(h.state()).toBe('cleanup.retrying');
    h.send({ type: 'WAKE', now: T0 + 101 });
    expect(h.state()).toBe('cleanup.executing');
    h.send({ type: 'RECOVER', now: T0 + 102 });
    expect(h.state()).toBe('failed');
    expect(h.context().cleanupResults[0]).toMatchObject({ code: 5633, retries: 1 });
  });

  it('the scenarios of this file visit every state of the chart', () => {
    const visited = new Set<string>();
    const run = (p: ReturnType<typeof plan>, drive: (h: ReturnType<typeof machineHarness>) => void) => {
      const h = machineHarness(p);
      drive(h);
      for (const s of h.visited) visited.add(s);
    };
    const withCleanup = (steps: ReturnType<typeof planStep>[]) =>
      plan([planStep()], [planStep({ beforeMs: 10, afterMs: 10, retries: 1, retryDelayMs: 10 }), ...steps]);
    run(plan([planStep({ beforeMs: 10, afterMs: 10, retries: 1, retryDelayMs: 10 }), waitStep(10)]), (h) => {
      h.send({ type: 'START', now: T0 });
      h.send({ type: 'WAKE', now: T0 + 10 });
      h.fail(T0 + 10);
      h.send({ type: 'PAUSE', now: T0 + 11 });
      h.send({ type: 'RESUME', now: T0 + 12 });
      h.send({ type: 'WAKE', now: T0 + 30 });
      h.succeed(T0 + 31);
      h.send({ type: 'WAKE', now: T0 + 41 });
      h.send({ type: 'WAKE', now: T0 + 51 });
    });
    run(withCleanup([waitStep(10)]), (h) => {
      h.send({ type: 'START', now: T0 });
      h.fail(T0);
      h.send({ type: 'WAKE', now: T0 + 10 });
      h.fail(T0 + 11);
      h.send({ type: 'WAKE', now: T0 + 21 });
      h.succeed(T0 + 22);
      h.send({ type: 'WAKE', now: T0 + 32 });
      h.send({ type: 'WAKE', now: T0 + 42 });
    });
    const when = { signal: 'go' };
    run(plan([planStep({ when }), waitForStep(1000)], [planStep({ when }), planStep()]), (h) => {
      h.send({ type: 'START', now: T0 });
      h.condition(T0, 'true');
      h.succeed(T0 + 1);
      h.send({ type: 'CANCEL', now: T0 + 2, reason: 'x' });
      h.condition(T0 + 2, 'false');
      h.succeed(T0 + 3);
    });
    run(plan([planStep()]), (h) => h.send({ type: 'CANCEL', now: T0, reason: 'x' }));
    run(plan([planStep()]), (h) => {
      h.send({ type: 'START', now: T0 });
      h.send({ type: 'TIMEOUT', now: T0 });
    });
    run(plan([planStep()]), (h) => {
      h.send({ type: 'START', now: T0 });
      h.send({ type: 'PAUSE', now: T0 + 1, outputs: 'off', held: [{ esp_id: 'E', gpio: 5, command: 'ON', value: 1, duration_seconds: 0 }] });
      h.send({ type: 'RESUME', now: T0 + 2 });
      h.send({ type: 'OUTPUTS_RESTORED', now: T0 + 3 });
      h.succeed(T0 + 4);
    });
    expect([...visited].sort()).toEqual(leaves(sequenceMachine.root as never).sort());
  });
});
