/**
 * The closed-loop parts of the sequence chart (SPEC 2.1) on the machine alone: a step's `when`,
 * a `wait_for` step with its timeout and `for_seconds`, signals. The host's answers (CONDITION)
 * are sent by hand, with explicit times.
 */
import { describe, expect, it } from 'vitest';
import { conditionMayMove, holdWakeAt, MachineCodes, MAX_SIGNALS } from '../../machines/sequence.machine.ts';
import { machineHarness } from '../helpers/machine.harness.ts';
import { plan, planStep, waitForStep } from '../helpers/definition.builder.ts';

const T0 = 1_000_000;
const WHEN = { sensor: { esp_id: 'ESP_1', gpio: 35 }, below: 30 };

describe('a step with when', () => {
  it('asks its host whether the condition holds when the step is reached, and runs the step when it does', () => {
    const h = machineHarness(plan([planStep({ name: 'Water', when: WHEN })]));
    h.send({ type: 'START', now: T0 });
    expect(h.state()).toBe('running.checkingWhen');
    expect(h.checks).toEqual([{ which: 'when', condition: WHEN }]);
    expect(h.attempts).toHaveLength(0);
    h.condition(T0, 'true');
    expect(h.state()).toBe('running.executing');
    expect(h.stepStatuses()).toEqual(['steps:0:starting']);
  });

  it.each([
    ['false', 'ESP_1:35 = 42 at 12:00:00, not below 30'],
    ['unknown', 'ESP_1:35 has no reading'],
  ] as const)('skips the step when the condition is %s: a success, recorded as skipped, announced as skipped', (truth, message) => {
    const h = machineHarness(plan([planStep({ name: 'Water', when: WHEN }), planStep({ name: 'Next' })]));
    h.send({ type: 'START', now: T0 });
    h.condition(T0 + 5, truth, message);
    expect(h.attempts).toHaveLength(1);
    expect(h.lastAttempt().stepIndex).toBe(1);
    expect(h.context().results).toEqual([
      { index: 0, name: 'Water', success: true, skipped: true, message: `skipped: ${message}`, code: null, startedAt: T0, endedAt: T0 + 5, retries: 0 },
    ]);
    expect(h.stepStatuses()).toEqual(['steps:0:skipped', 'steps:1:starting']);
    expect(h.steps[0]).toMatchObject({ success: true, message: `skipped: ${message}` });
  });

  it('checks the when of a step reached after a step that succeeded, and a skipped last step completes the run', () => {
    const h = machineHarness(plan([planStep({ name: 'A' }), planStep({ name: 'B', when: WHEN })]));
    h.send({ type: 'START', now: T0 });
    h.succeed(T0 + 10);
    expect(h.state()).toBe('running.checkingWhen');
    h.condition(T0 + 10, 'false');
    expect(h.state()).toBe('completed');
    expect(h.context().results.map((r) => [r.name, r.success, r.skipped])).toEqual([
      ['A', true, false],
      ['B', true, true],
    ]);
  });

  it('is checked on cleanup steps too', () => {
    const h = machineHarness(plan([planStep()], [planStep({ name: 'Flush', when: WHEN }), planStep({ name: 'Off' })]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'CANCEL', now: T0 + 1, reason: 'x' });
    expect(h.state()).toBe('cleanup.checkingWhen');
    h.condition(T0 + 1, 'unknown');
    expect(h.state()).toBe('cleanup.executing');
    expect(h.context().cleanupResults[0]).toMatchObject({ name: 'Flush', skipped: true });
  });
});

describe('a wait_for step', () => {
  it('waits in running.waiting with its timeout as its deadline, watches its sensors and asks once at once', () => {
    const h = machineHarness(plan([waitForStep(900_000)]));
    h.send({ type: 'START', now: T0 });
    expect(h.state()).toBe('running.waiting');
    expect(h.context().deadline).toBe(T0 + 900_000);
    expect(h.counts.watchCondition).toBe(1);
    expect(h.checks).toEqual([{ which: 'wait', condition: { sensor: { esp_id: 'ESP_1', gpio: 34 }, above: 40 } }]);
    expect(h.stepStatuses()).toEqual(['steps:0:starting', 'steps:0:waiting']);
    expect(h.steps[1]?.message).toBe('waiting for ESP_1:34 above 40');
  });

  it('is satisfied by the first answer that holds; its result names the value', () => {
    const h = machineHarness(plan([waitForStep(900_000), planStep({ name: 'Close' })]));
    h.send({ type: 'START', now: T0 });
    h.condition(T0, 'false');
    h.condition(T0 + 3000, 'unknown');
    expect(h.state()).toBe('running.waiting');
    h.condition(T0 + 5000, 'true', 'ESP_1:34 = 41.2 % at 00:16:45', T0 + 125_000);
    expect(h.state()).toBe('running.executing');
    expect(h.counts.unwatchCondition).toBe(1);
    expect(h.context().results[0]).toMatchObject({ success: true, skipped: false, message: 'ESP_1:34 = 41.2 % at 00:16:45', endedAt: T0 + 5000 });
  });

  it('with for_seconds: holds from the first true answer and is satisfied once it held that long', () => {
    const h = machineHarness(plan([waitForStep(900_000, 30_000), planStep()]));
    h.send({ type: 'START', now: T0 });
    h.condition(T0 + 1000, 'true', 'ESP_1:34 = 41', T0 + 121_000);
    expect(h.context().hold).toEqual({ since: T0 + 1000, until: T0 + 121_000, message: 'ESP_1:34 = 41' });
    expect(holdWakeAt(h.context())).toBe(T0 + 31_000);
    h.condition(T0 + 11_000, 'true', 'ESP_1:34 = 43', T0 + 131_000);
    expect(h.context().hold).toMatchObject({ since: T0 + 1000, message: 'ESP_1:34 = 43' });
    h.send({ type: 'WAKE', now: T0 + 30_999 });
    expect(h.state()).toBe('running.waiting');
    h.send({ type: 'WAKE', now: T0 + 31_000 });
    expect(h.state()).toBe('running.executing');
    expect(h.context().results[0]?.message).toBe('ESP_1:34 = 43 (held 30 s)');
  });

  it('with for_seconds: a reading that dips starts it over', () => {
    const h = machineHarness(plan([waitForStep(900_000, 30_000), planStep()]));
    h.send({ type: 'START', now: T0 });
    h.condition(T0, 'true', 'high', T0 + 120_000);
    h.condition(T0 + 20_000, 'false', 'low');
    expect(h.context().hold).toBeNull();
    h.send({ type: 'WAKE', now: T0 + 30_000 });
    expect(h.state()).toBe('running.waiting');
    h.condition(T0 + 25_000, 'true', 'high again', T0 + 145_000);
    h.send({ type: 'WAKE', now: T0 + 54_999 });
    expect(h.state()).toBe('running.waiting');
    h.send({ type: 'WAKE', now: T0 + 55_000 });
    expect(h.state()).toBe('running.executing');
  });

  it('with for_seconds: readings that age out before it held long enough start it over (the host wakes it then)', () => {
    const h = machineHarness(plan([waitForStep(900_000, 60_000), planStep()]));
    h.send({ type: 'START', now: T0 });
    h.condition(T0, 'true', 'high', T0 + 20_000);
    expect(holdWakeAt(h.context())).toBe(T0 + 20_000);
    h.send({ type: 'WAKE', now: T0 + 20_000 });
    expect(h.context().hold).toBeNull();
    expect(holdWakeAt(h.context())).toBeNull();
    h.send({ type: 'WAKE', now: T0 + 60_000 });
    expect(h.state()).toBe('running.waiting');
  });

  it('takes no transition for an answer that changes nothing', () => {
    const h = machineHarness(plan([waitForStep(900_000, 30_000)]));
    h.send({ type: 'START', now: T0 });
    h.condition(T0, 'true', 'high', T0 + 120_000);
    const before = h.actor.getSnapshot();
    h.condition(T0 + 1, 'true', 'high', T0 + 120_000);
    h.condition(T0 + 2, 'false');
    h.condition(T0 + 3, 'unknown');
    expect(h.actor.getSnapshot()).not.toBe(before);
    const quiet = machineHarness(plan([waitForStep(900_000)]));
    quiet.send({ type: 'START', now: T0 });
    const idle = quiet.actor.getSnapshot();
    quiet.condition(T0 + 1, 'false');
    quiet.condition(T0 + 2, 'unknown');
    expect(quiet.actor.getSnapshot()).toBe(idle);
  });

  it('an answer conditionMayMove calls idle moves no waiting run, holding or not (the host may keep it back)', () => {
    for (const forMs of [0, 30_000]) {
      for (const holding of [false, true]) {
        for (const truth of ['true', 'false', 'unknown'] as const) {
          const h = machineHarness(plan([waitForStep(900_000, forMs)]));
          h.send({ type: 'START', now: T0 });
          if (holding && forMs > 0) h.condition(T0, 'true', 'high', T0 + 120_000);
          if (conditionMayMove(h.context(), truth)) continue;
          const before = h.actor.getSnapshot();
          h.condition(T0 + 1000, truth, 'x', T0 + 121_000);
          expect(h.actor.getSnapshot()).toBe(before);
        }
      }
    }
  });

  it('times out with 5621 and aborts the run by default', () => {
    const h = machineHarness(plan([waitForStep(60_000), planStep()]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'WAKE', now: T0 + 60_000 });
    expect(h.state()).toBe('failed');
    expect(h.context().end).toMatchObject({ outcome: 'failed', code: MachineCodes.WAIT_TIMEOUT });
    expect(h.context().results[0]).toMatchObject({ success: false, code: 5621, message: 'Wait timed out after 60 s: ESP_1:34 above 40 did not hold' });
    expect(h.counts.unwatchCondition).toBe(1);
  });

  it('times out with 5621 and goes on with on_timeout continue', () => {
    const h = machineHarness(plan([waitForStep(60_000, 0, { onFailure: 'continue' }), planStep({ name: 'Close' })]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'WAKE', now: T0 + 60_000 });
    expect(h.state()).toBe('running.executing');
    expect(h.lastAttempt().step.name).toBe('Close');
    expect(h.context().results[0]).toMatchObject({ success: false, code: 5621 });
  });

  it('waits out its before-delay first, then waits for the condition with its full timeout', () => {
    const h = machineHarness(plan([waitForStep(60_000, 0, { beforeMs: 5000 })]));
    h.send({ type: 'START', now: T0 });
    expect(h.state()).toBe('running.beforeDelay');
    h.send({ type: 'WAKE', now: T0 + 5000 });
    expect(h.state()).toBe('running.waiting');
    expect(h.context().deadline).toBe(T0 + 65_000);
  });

  it('paused, stops watching and keeps the time left; resumed, watches and asks again with a fresh hold', () => {
    const h = machineHarness(plan([waitForStep(60_000, 30_000)]));
    h.send({ type: 'START', now: T0 });
    h.condition(T0 + 1000, 'true', 'high', T0 + 120_000);
    h.send({ type: 'PAUSE', now: T0 + 10_000 });
    expect(h.state()).toBe('paused.held');
    expect(h.counts.unwatchCondition).toBe(1);
    expect(h.context()).toMatchObject({ pause: { remainingMs: 50_000 }, hold: null, deadline: null });
    h.send({ type: 'RESUME', now: T0 + 100_000 });
    expect(h.state()).toBe('running.waiting');
    expect(h.context().deadline).toBe(T0 + 150_000);
    expect(h.counts.watchCondition).toBe(2);
    expect(h.checks).toHaveLength(2);
  });

  it('cancelled while waiting, records the wait as failed with 5612 and stops watching', () => {
    const h = machineHarness(plan([waitForStep(60_000)]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'CANCEL', now: T0 + 5, reason: 'operator' });
    expect(h.counts.unwatchCondition).toBe(1);
    expect(h.context().results[0]).toMatchObject({ success: false, code: 5612 });
  });

  it('after a restart (RECOVER), watches again and asks again, its hold dropped', () => {
    const h = machineHarness(plan([waitForStep(60_000, 30_000)]));
    h.send({ type: 'START', now: T0 });
    h.condition(T0, 'true', 'high', T0 + 120_000);
    h.send({ type: 'RECOVER', now: T0 + 5000 });
    expect(h.state()).toBe('running.waiting');
    expect(h.context().hold).toBeNull();
    expect(h.context().deadline).toBe(T0 + 60_000);
    expect(h.counts.watchCondition).toBe(2);
    expect(h.checks).toHaveLength(2);
  });
});

describe('signals', () => {
  it('are kept in every state until the run ends, at most 100', () => {
    const h = machineHarness(plan([planStep()]));
    h.send({ type: 'SIGNAL', now: T0, name: 'early' });
    h.send({ type: 'START', now: T0 });
    for (let i = 1; i < MAX_SIGNALS + 5; i++) h.send({ type: 'SIGNAL', now: T0, name: `s${i}` });
    expect(h.context().signals).toHaveLength(MAX_SIGNALS);
    expect(h.context().signals[0]).toBe('early');
    expect(h.counts.forwardSignal).toBe(MAX_SIGNALS);
  });

  it('received while waiting, are kept and make the machine ask about its condition again', () => {
    const h = machineHarness(plan([waitForStep(60_000, 0, { wait: { condition: { signal: 'tank_full' }, forMs: 0, description: 'signal tank_full' } })]));
    h.send({ type: 'START', now: T0 });
    h.send({ type: 'SIGNAL', now: T0 + 5, name: 'tank_full' });
    expect(h.context().signals).toEqual(['tank_full']);
    expect(h.checks.map((c) => c.which)).toEqual(['wait', 'wait']);
  });
});
