import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Codes, SequencerError } from '../../src/domain/errors.ts';
import type { ActuatorCommand } from '../../src/drivers/actuator-driver.ts';
import { SimDriver } from '../../src/drivers/sim.driver.ts';
import type { ExecutionContext } from '../../src/executors/executor.ts';
import type { LatchState } from '../../src/safety/emergency-latch.ts';
import { SafetyPolicy } from '../../src/safety/safety-policy.ts';
import { SafetySystem, type SafetySystemOptions } from '../../src/safety/safety-system.ts';

let sim: SimDriver;
let safety: SafetySystem;
let seq = 0;

function system(options: Partial<SafetySystemOptions> = {}): SafetySystem {
  safety = new SafetySystem({ driver: sim, policy: new SafetyPolicy(), commandsPerSecond: 0, commandsPerEspPerSecond: 0, ...options });
  return safety;
}

function command(esp: string, gpio: number, name: ActuatorCommand['command'], extra: Partial<ActuatorCommand> = {}): ActuatorCommand {
  return { esp_id: esp, gpio, command: name, value: name === 'OFF' ? 0 : 1, duration_seconds: 0, correlation_id: `c-${++seq}`, ...extra };
}

function context(runId: string, priority = 100, extra: Partial<ExecutionContext> = {}): ExecutionContext {
  return {
    runId,
    rootRunId: runId,
    sequenceId: 'seq',
    priority,
    ruleName: null,
    stepIndex: 0,
    stepName: 'Step 1',
    phase: 'steps',
    attempt: 0,
    depth: 1,
    signal: new AbortController().signal,
    timeoutMs: 30_000,
    deadline: Date.now() + 30_000,
    attachControl: () => {},
    emit: () => {},
    ...extra,
  };
}

/** Runs one command through the safety system and the sim, as the actuator executor does. */
async function send(cmd: ActuatorCommand, ctx: ExecutionContext, leaveOn = false): Promise<void> {
  await safety.beforeSend(cmd, ctx);
  const answer = await sim.send(cmd, { signal: ctx.signal, timeoutMs: ctx.timeoutMs });
  if (answer.success) safety.afterSend(cmd, ctx, leaveOn);
}

async function refusal(promise: Promise<unknown>): Promise<SequencerError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof SequencerError)) throw new Error(`expected a SequencerError, got ${String(error)}`);
  return error;
}

function safeState(runId: string, emit: ExecutionContext['emit'] = () => {}): Promise<string> {
  const executor = safety.safeStateExecutor();
  return (executor.execute as NonNullable<typeof executor.execute>)({}, context(runId, 100, { phase: 'cleanup', emit }));
}

beforeEach(() => {
  sim = new SimDriver(0);
  system();
});

afterEach(() => {
  safety.close();
  vi.useRealTimers();
});

describe('emergency latch', () => {
  it('refuses every command but OFF with 5642 naming the reason while tripped', async () => {
    safety.latch.trip('flood', 1);

    const refused = await refusal(safety.beforeSend(command('ESP_1', 5, 'PWM', { value: 0.4 }), context('r1')));
    expect([refused.code, refused.message]).toEqual([Codes.SAFETY_BLOCKED, 'PWM to ESP_1:5 blocked: emergency stop is active (flood)']);
    await expect(safety.beforeSend(command('ESP_1', 5, 'OFF'), context('r1'))).resolves.toBeUndefined();
  });

  it('starts tripped when restored tripped, and reports each change for storage', () => {
    const changes: LatchState[] = [];
    system({ latch: { active: true, reason: 'before restart', since: 5 }, onLatchChange: (s) => changes.push(s) });

    expect(() => safety.assertNotStopped('Start')).toThrow('Start blocked: emergency stop is active (before restart)');
    safety.latch.clear(9);
    expect(() => safety.assertNotStopped('Start')).not.toThrow();
    expect(changes).toEqual([{ active: false, reason: null, since: 9 }]);
  });
});

describe('policy', () => {
  it('refuses a denied command with 5642 before it takes a lease', async () => {
    system({ policy: new SafetyPolicy({ actuators: [{ match: 'ESP_1:5', allow: ['OFF'] }] }) });

    const refused = await refusal(safety.beforeSend(command('ESP_1', 5, 'ON'), context('r1')));

    expect(refused.code).toBe(Codes.SAFETY_BLOCKED);
    expect(refused.message).toBe('safety rule "ESP_1:5": command ON not allowed (allowed: OFF)');
    expect(safety.leases.size).toBe(0);
  });

  it('gives an open-ended ON the longest allowed duration, and keeps a shorter one', async () => {
    system({ policy: new SafetyPolicy({ actuators: [{ match: 'ESP_1:*', max_on_seconds: 120 }] }) });
    const open = command('ESP_1', 5, 'ON');
    const short = command('ESP_1', 6, 'ON', { duration_seconds: 30 });

    await safety.beforeSend(open, context('r1'));
    await safety.beforeSend(short, context('r1'));

    expect([open.duration_seconds, short.duration_seconds]).toEqual([120, 30]);
  });
});

describe('leases', () => {
  it('refuses a second run with 5640 naming the holder, and frees the actuator after the holder turns it OFF', async () => {
    await send(command('ESP_1', 5, 'ON'), context('holder'));

    const refused = await refusal(safety.beforeSend(command('ESP_1', 5, 'ON'), context('other')));
    expect([refused.code, refused.message]).toEqual([Codes.ACTUATOR_LOCKED, 'Actuator ESP_1:5 is held by run holder (priority 100)']);

    await send(command('ESP_1', 5, 'OFF'), context('holder'));
    await expect(send(command('ESP_1', 5, 'ON'), context('other'))).resolves.toBeUndefined();
    expect(safety.leases.holderOf('ESP_1:5')?.runId).toBe('other');
  });

  it('lets a more important run take over and tells the holder once, on its next command', async () => {
    await send(command('ESP_1', 5, 'ON'), context('holder', 100));
    await send(command('ESP_1', 5, 'ON'), context('urgent', 1));

    const told = await refusal(safety.beforeSend(command('ESP_1', 5, 'OFF'), context('holder', 100)));
    expect(told.message).toBe('Actuator ESP_1:5 was taken over by run urgent (priority 1)');
    const again = await refusal(safety.beforeSend(command('ESP_1', 5, 'OFF'), context('holder', 100)));
    expect(again.message).toBe('Actuator ESP_1:5 is held by run urgent (priority 1)');
  });

  it('releases a lease taken for a command that never got a rate token', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    system({ commandsPerEspPerSecond: 1 });
    await send(command('ESP_1', 1, 'ON'), context('busy'));

    const limited = await refusal(safety.beforeSend(command('ESP_1', 2, 'ON'), context('late', 100, { deadline: Date.now() + 500 })));

    expect(limited.code).toBe(Codes.RATE_LIMITED);
    expect(safety.leases.holderOf('ESP_1:2')).toBeUndefined();
    expect(await safeState('late')).toBe('No actuator held');
  });

  it('keeps a lease the run already held when a later command of it is rate limited', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    system({ commandsPerEspPerSecond: 1 });
    await send(command('ESP_1', 1, 'ON'), context('run'));

    await refusal(safety.beforeSend(command('ESP_1', 1, 'PWM', { value: 0.5 }), context('run', 100, { deadline: Date.now() + 500 })));

    expect(safety.leases.holderOf('ESP_1:1')?.runId).toBe('run');
  });
});

describe('safe state', () => {
  it('turns OFF what the run holds except what its last switching step left on, and releases everything', async () => {
    await send(command('ESP_1', 1, 'ON'), context('run'), true);
    await send(command('ESP_1', 2, 'ON'), context('run'), true);
    await send(command('ESP_1', 2, 'PWM', { value: 0.3 }), context('run'), false);
    await send(command('ESP_1', 3, 'ON'), context('run'));

    expect(await safeState('run')).toBe('Turned off ESP_1:2, ESP_1:3');
    expect([1, 2, 3].map((gpio) => sim.actuator('ESP_1', gpio)?.on)).toEqual([true, false, false]);
    expect(safety.leases.size).toBe(0);
  });

  it('fails with 5643 naming what it could not confirm OFF, alerts once per actuator, and keeps that lease with the run', async () => {
    await send(command('ESP_1', 1, 'ON'), context('run'));
    await send(command('ESP_2', 1, 'ON'), context('run'));
    sim.configure('ESP_2', { fail: true });
    const alerts: unknown[] = [];

    const failed = await refusal(safeState('run', (type, data) => alerts.push({ type, data })));
    safety.runEnded('run');

    expect([failed.code, failed.message]).toEqual([Codes.SAFE_STATE_FAILED, 'Turned off ESP_1:1; could not confirm OFF: ESP_2:1: ESP_2: simulated failure']);
    expect(alerts).toEqual([
      {
        type: 'safety_alert',
        data: { sequence_id: 'seq', run_id: 'run', esp_id: 'ESP_2', gpio: 1, error_code: 5643, message: 'ESP_2:1 could not be confirmed OFF: ESP_2: simulated failure' },
      },
    ]);
    expect([safety.leases.holderOf('ESP_1:1'), safety.leases.holderOf('ESP_2:1')?.runId]).toEqual([undefined, 'run']);
    expect((await refusal(safety.beforeSend(command('ESP_2', 1, 'ON'), context('other')))).code).toBe(Codes.ACTUATOR_LOCKED);
  });

  it('gives up each OFF after the safe-state timeout, all at once, whatever the step timeouts say', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    system({ safeStateTimeoutMs: 2000 });
    await send(command('ESP_DEAD', 1, 'ON'), context('run'));
    await send(command('ESP_DEAD', 2, 'ON'), context('run'));
    sim.configure('ESP_DEAD', { hang: true });

    const outcome = refusal(safeState('run'));
    await vi.advanceTimersByTimeAsync(1999);
    let settled = false;
    void outcome.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);

    expect((await outcome).message).toBe('Could not confirm OFF: ESP_DEAD:1: no answer within 2 s; ESP_DEAD:2: no answer within 2 s');
  });

  it('releases a lease its failed safe state left once an operator OFF is confirmed, and not before', async () => {
    await send(command('ESP_2', 1, 'ON'), context('run'));
    sim.configure('ESP_2', { fail: true });
    await refusal(safeState('run'));
    safety.runEnded('run');
    safety.runDropped('run');

    const refused = await refusal(safety.operatorOff('ESP_2', 1));
    expect([refused.code, refused.status, refused.message]).toEqual([5643, 409, 'ESP_2:1 could not be confirmed OFF: ESP_2: simulated failure; its lease stays with run run']);
    expect(safety.unconfirmed()).toEqual([{ key: 'ESP_2:1', runId: 'run', priority: 100 }]);

    sim.configure('ESP_2', { fail: false });
    expect(await safety.operatorOff('ESP_2', 1)).toEqual({ released_from_run: 'run' });
    expect([safety.leases.holderOf('ESP_2:1'), safety.unconfirmed()]).toEqual([undefined, []]);
  });

  it("lets any run's OFF through to an actuator a failed safe state left, and releases it once confirmed", async () => {
    await send(command('ESP_2', 1, 'ON'), context('run'));
    sim.configure('ESP_2', { fail: true });
    await refusal(safeState('run'));
    safety.runEnded('run');
    sim.configure('ESP_2', { fail: false });

    await send(command('ESP_2', 1, 'OFF'), context('other'));

    expect([safety.leases.holderOf('ESP_2:1'), safety.unconfirmed()]).toEqual([undefined, []]);
  });

  it('restores the leases of earlier unconfirmed OFFs it is given (a restart keeps them)', async () => {
    const stored: unknown[] = [];
    system({ onUnconfirmedChange: (leases) => stored.push(leases) });
    await send(command('ESP_2', 1, 'ON'), context('run', 50));
    sim.configure('ESP_2', { fail: true });
    await refusal(safeState('run'));

    system({ unconfirmed: stored.at(-1) as [] });

    expect(safety.leases.holderOf('ESP_2:1')).toMatchObject({ runId: 'run', priority: 50 });
    expect([...safety.touched()]).toEqual(['ESP_2:1']);
  });

  it('rebuilds a recovered run from its commands, so its safe state still reaches the actuator', async () => {
    safety.restore('recovered', 100, [
      { esp_id: 'ESP_1', gpio: 1, command: 'ON', value: 1, duration_seconds: 0, leave_on: false },
      { esp_id: 'ESP_1', gpio: 2, command: 'ON', value: 1, duration_seconds: 0, leave_on: true },
      { esp_id: 'ESP_1', gpio: 3, command: 'ON', value: 1, duration_seconds: 0, leave_on: false },
      { esp_id: 'ESP_1', gpio: 3, command: 'OFF', value: 0, duration_seconds: 0, leave_on: false },
    ]);

    expect((await refusal(safety.beforeSend(command('ESP_1', 2, 'ON'), context('other')))).code).toBe(Codes.ACTUATOR_LOCKED);
    expect(await safeState('recovered')).toBe('Turned off ESP_1:1');
    expect(sim.actuator('ESP_1', 1)?.on).toBe(false);
  });
});

describe('emergency reach', () => {
  it('remembers every actuator a run touched until the run is dropped', async () => {
    await send(command('ESP_1', 1, 'ON'), context('a'), true);
    await send(command('ESP_1', 2, 'ON'), context('b'));
    safety.runEnded('a');
    safety.runEnded('b');

    expect([...safety.touched()].sort()).toEqual(['ESP_1:1', 'ESP_1:2']);
    const report = await safety.turnOff(safety.touched());
    expect(report).toEqual({ off: ['ESP_1:1', 'ESP_1:2'], failed: [] });

    safety.runDropped('a');
    expect([...safety.touched()]).toEqual(['ESP_1:2']);
  });

  it('gives up an OFF to a device that never answers after the safe-state timeout', async () => {
    system({ safeStateTimeoutMs: 20 });
    sim.configure('ESP_SILENT', { hang: true });

    const report = await safety.turnOff(['ESP_SILENT:4']);

    expect(report).toEqual({ off: [], failed: [{ key: 'ESP_SILENT:4', esp_id: 'ESP_SILENT', gpio: 4, message: 'no answer within 0.02 s' }] });
  });
});
