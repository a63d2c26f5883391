import { afterEach, expect, it } from 'vitest';
import { Codes } from '../../src/domain/errors.ts';
import { actuator, startHarness, wait, type SafetyHarness } from './safety-harness.ts';

const RUNS = 1000;
const GPIOS = 40;

let h: SafetyHarness | null = null;

afterEach(async () => {
  await h?.close();
  h = null;
});

/** Resolves once `count` events of `type` (per `match`) have been published. */
function count(harness: SafetyHarness, type: 'sequence_step' | 'sequence_completed', match: (data: never) => boolean, n: number) {
  return new Promise<void>((resolve) => {
    let seen = harness.events.filter((e) => e.type === type && match(e.data as never)).length;
    if (seen >= n) return resolve();
    const stop = harness.services.engine.events.subscribe((e) => {
      if (e.type !== type || !match(e.data as never)) return;
      if (++seen < n) return;
      stop();
      resolve();
    });
  });
}

it('an emergency stop during 1,000 runs holding 1,000 actuators leaves every actuator OFF and no run running', async () => {
  const t = (h = await startHarness({
    limits: { max_concurrent: 2 * RUNS },
    rate_limits: { starts_per_second: 0, commands_per_second: 0, commands_per_esp_per_second: 0 },
  }));
  const switchedOn = count(t, 'sequence_step', (d: { step: number; status: string; phase: string }) => d.phase === 'steps' && d.step === 0 && d.status === 'completed', RUNS);
  const runIds = Array.from({ length: RUNS }, (_, i) => t.start({ steps: [actuator(`ESP_${Math.floor(i / GPIOS)}`, i % GPIOS, 'ON'), wait(3600)] }));
  await switchedOn;
  const actuators = () => t.sim.devices().flatMap((d) => d.actuators);
  expect(actuators().filter((a) => a.on)).toHaveLength(RUNS);
  expect(t.services.engine.runningCount).toBe(RUNS);

  const allEnded = count(t, 'sequence_completed', () => true, RUNS);
  const result = await t.services.emergencyStop('scale test');
  await allEnded;

  expect(result).toEqual({ runs_cancelled: RUNS, actuators_off: RUNS, actuators_failed: [] });
  expect(actuators()).toHaveLength(RUNS);
  expect(actuators().filter((a) => a.on)).toEqual([]);
  expect(t.services.engine.runningCount).toBe(0);
  const ended = await Promise.all(runIds.map((id) => t.services.engine.get(id)));
  const statuses = new Set(ended.map((progress) => progress?.status));
  expect([...statuses]).toEqual(['cancelled']);
  expect(new Set(ended.map((progress) => progress?.error_code))).toEqual(new Set([Codes.CANCELLED]));
  expect(t.services.safety.leases.size).toBe(0);
});
