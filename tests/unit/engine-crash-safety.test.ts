/**
 * A run whose actor crashes (a defect in an action) cannot run its cleanup steps; the safety
 * system still turns OFF what it held (SPEC 10: nothing is left running because a sequence died).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { SimDriver } from '../../src/drivers/sim.driver.ts';
import { actuatorExecutor } from '../../src/executors/actuator.executor.ts';
import type { Executor } from '../../src/executors/executor.ts';
import { SafetyPolicy } from '../../src/safety/safety-policy.ts';
import { SafetySystem } from '../../src/safety/safety-system.ts';
import { definition } from '../helpers/definition.builder.ts';
import { engineHarness } from '../helpers/engine.harness.ts';

/** An executor whose lookup throws inside the run's transition, as a defect in an action would. */
const defect: Executor = {
  type: 'defect',
  schema: z.object({ type: z.literal('defect') }).loose() as never,
  get execute(): never {
    throw new Error('defect in an action');
  },
};

const pump = (command: string, extra: Record<string, unknown> = {}) => ({
  name: `Pump ${command}`,
  action: { type: 'actuator_command', esp_id: 'ESP_P', gpio: 4, command, ...extra },
});

let harness: ReturnType<typeof engineHarness> | null = null;
beforeEach(() => vi.useFakeTimers());
afterEach(async () => {
  await harness?.engine.close();
  harness = null;
  vi.useRealTimers();
});

function setUp() {
  const sim = new SimDriver(1);
  const safety = new SafetySystem({ driver: sim, policy: new SafetyPolicy(), commandsPerSecond: 0, commandsPerEspPerSecond: 0 });
  harness = engineHarness({
    latencyMs: 1,
    executors: (registry) => registry.register(actuatorExecutor(sim, safety)).register(safety.safeStateExecutor()).register(defect),
    onRunCrashed: (run) => void safety.makeSafe(run.runId),
    onRunEnded: (run) => safety.runEnded(run.runId),
  });
  return { sim, engine: harness.engine, events: harness.events };
}

describe('when a run crashes', () => {
  it('turns OFF the pump it had switched on, though no cleanup step can run', async () => {
    const { sim, engine, events } = setUp();
    const { run_id } = engine.start(definition([pump('ON'), { name: 'Crash', action: { type: 'defect' } }]));
    await vi.advanceTimersByTimeAsync(50);

    expect(events.completed(run_id)).toMatchObject({ status: 'failed', error_code: 5631 });
    expect(sim.actuator('ESP_P', 4)).toMatchObject({ on: false, last_command: 'OFF' });
  });

  it('a crash inside a nested run fails its top-level run, which makes safe what it held and frees its slot', async () => {
    const { sim, engine, events } = setUp();
    const nested = { name: 'Child', action: { type: 'sequence', steps: [{ name: 'Crash', action: { type: 'defect' } }] } };
    const { run_id } = engine.start(definition([pump('ON'), nested, pump('OFF')]));
    await vi.advanceTimersByTimeAsync(50);

    expect(events.completed(run_id)).toMatchObject({ status: 'failed', error_code: 5631 });
    expect(sim.actuator('ESP_P', 4)).toMatchObject({ on: false, last_command: 'OFF' });
    expect(engine.runningCount).toBe(0);
    const next = engine.start(definition([pump('ON')]));
    await vi.advanceTimersByTimeAsync(50);
    expect(events.completed(next.run_id)).toMatchObject({ status: 'completed' });
  });

  it('leaves on what a step said to leave on', async () => {
    const { sim, engine } = setUp();
    engine.start(definition([pump('ON', { leave_on: true }), { name: 'Crash', action: { type: 'defect' } }]));
    await vi.advanceTimersByTimeAsync(50);

    expect(sim.actuator('ESP_P', 4)).toMatchObject({ on: true, last_command: 'ON' });
  });
});
