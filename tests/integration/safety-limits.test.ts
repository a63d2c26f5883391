import { afterEach, describe, expect, it, vi } from 'vitest';
import { Codes, SequencerError } from '../../src/domain/errors.ts';
import type { ActuatorCommand } from '../../src/drivers/actuator-driver.ts';
import { actuator, drive, startHarness, useEngineFakeTimers, type ConfigOverrides, type SafetyHarness } from './safety-harness.ts';

let h: SafetyHarness | null = null;

async function harness(overrides: ConfigOverrides): Promise<SafetyHarness> {
  useEngineFakeTimers();
  h = await startHarness(overrides);
  return h;
}

afterEach(async () => {
  await h?.close();
  h = null;
  vi.useRealTimers();
});

/** Commands the node `esp` has received so far. */
function commandsTo(harness: SafetyHarness, esp: string): number {
  return harness.sim.devices().find((d) => d.esp_id === esp)?.commands ?? 0;
}

describe('command rate limits', () => {
  it('lets a burst of 20 commands to one ESP through at 5/s, in order, when their timeout allows the wait', async () => {
    const t = await harness({ rate_limits: { commands_per_esp_per_second: 5 } });
    const runs = Array.from({ length: 20 }, (_, i) => t.start({ steps: [actuator('ESP_BURST', i, 'ON')] }));

    // The bucket holds a burst of 5; then one token every 200 ms.
    await vi.advanceTimersByTimeAsync(0);
    expect(commandsTo(t, 'ESP_BURST')).toBe(5);
    await vi.advanceTimersByTimeAsync(1000);
    expect(commandsTo(t, 'ESP_BURST')).toBe(10);
    await vi.advanceTimersByTimeAsync(1999);
    expect(commandsTo(t, 'ESP_BURST')).toBe(19);

    const ended = await drive(Promise.all(runs.map((id) => t.ended(id))));
    expect(ended.map((p) => p.status)).toEqual(Array(20).fill('completed'));
    expect(commandsTo(t, 'ESP_BURST')).toBe(20);
    expect(t.sim.devices().find((d) => d.esp_id === 'ESP_BURST')?.actuators.every((a) => a.on)).toBe(true);
  });

  it('fails the commands that cannot get a token within their 1 s timeout with 5641, at once', async () => {
    const t = await harness({ rate_limits: { commands_per_esp_per_second: 5 } });
    // One command 100 ms earlier leaves 4.5 tokens: 4 go at once, the next at +100 ms, then every 200 ms.
    const drainedAt = Date.now();
    await drive(t.ended(t.start({ steps: [actuator('ESP_BURST', 39, 'ON')] })));
    await vi.advanceTimersByTimeAsync(drainedAt + 100 - Date.now());
    const startedAt = Date.now();
    const runs = Array.from({ length: 20 }, (_, i) => t.start({ steps: [actuator('ESP_BURST', i, 'ON', { timeout_seconds: 1 })] }));

    const ended = await drive(Promise.all(runs.map((id) => t.ended(id))));

    // Tokens come at +0 (4 of them), +100, +300, +500, +700, +900 ms: 9 before the 1 s deadline;
    // the 11 behind them could only be served after it and are refused without waiting.
    const completed = ended.filter((p) => p.status === 'completed');
    const limited = ended.filter((p) => p.error_code === Codes.RATE_LIMITED);
    expect(completed.map((p) => p.run_id)).toEqual(runs.slice(0, 9));
    expect(limited.map((p) => p.run_id)).toEqual(runs.slice(9));
    for (const p of limited) {
      expect(p.status).toBe('failed');
      expect(p.step_results[0]?.message).toBe('Rate limit exceeded: ESP_BURST allows 5 commands/s and no token is free before the deadline');
      expect(Date.parse(p.completed_at as string)).toBe(startedAt);
    }
    // Refused commands never reached the device and hold nothing.
    expect(commandsTo(t, 'ESP_BURST')).toBe(10);
    expect(t.services.safety.leases.size).toBe(0);
  });
});

describe('start rate limit', () => {
  it('refuses starts over starts_per_second with 5641 (HTTP 429)', async () => {
    const t = await harness({ rate_limits: { starts_per_second: 3 } });
    const def = { steps: [{ delay_seconds: 1 }] };
    for (let i = 0; i < 3; i++) t.start(def);

    const refused = (() => {
      try {
        t.start(def);
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(SequencerError);
    expect((refused as SequencerError).code).toBe(Codes.RATE_LIMITED);
    expect((refused as SequencerError).httpStatus).toBe(429);
    expect((refused as SequencerError).message).toBe('Start rate limit exceeded (3/s)');
    // The next token comes in 1/3 s.
    expect((refused as SequencerError).retryAfterMs).toBe(334);

    await vi.advanceTimersByTimeAsync(334);
    expect(() => t.start(def)).not.toThrow();
  });

  it('takes no token for a start refused as a duplicate (409): a flood of those does not lock out other starts', async () => {
    const t = await harness({ rate_limits: { starts_per_second: 3 } });
    const single = { sequence_id: 'zone-1', steps: [{ delay_seconds: 1 }] };
    t.start(single);

    const refusals = Array.from({ length: 5 }, () => {
      try {
        t.start(single);
        return null;
      } catch (error) {
        return (error as SequencerError).code;
      }
    });

    expect(refusals).toEqual(Array(5).fill(Codes.ALREADY_RUNNING));
    // Two tokens are left of three, as if the duplicates had never been asked.
    expect(() => t.start({ steps: [{ delay_seconds: 1 }] })).not.toThrow();
    expect(() => t.start({ steps: [{ delay_seconds: 1 }] })).not.toThrow();
    expect(() => t.start({ steps: [{ delay_seconds: 1 }] })).toThrow('Start rate limit exceeded (3/s)');
  });
});

describe('safety policy', () => {
  const policy: ConfigOverrides = {
    safety: {
      actuators: [
        { match: 'ESP_P:*', allow: ['ON', 'OFF'], max_on_seconds: 600 },
        { match: 'ESP_P:5', allow: ['PWM', 'OFF'], pwm_min: 0.2, pwm_max: 0.8 },
      ],
    },
  };

  it.each([
    ['a command the rule does not allow', actuator('ESP_P', 5, 'ON'), 'safety rule "ESP_P:5": command ON not allowed (allowed: OFF, PWM)'],
    ['TOGGLE under a wildcard rule', actuator('ESP_P', 7, 'TOGGLE'), 'safety rule "ESP_P:*": command TOGGLE not allowed (allowed: ON, OFF)'],
    ['a PWM value above pwm_max', actuator('ESP_P', 5, 'PWM', { value: 0.9 }), 'safety rule "ESP_P:5": PWM value 0.9 above pwm_max 0.8'],
    ['a PWM value below pwm_min', actuator('ESP_P', 5, 'PWM', { value: 0.1 }), 'safety rule "ESP_P:5": PWM value 0.1 below pwm_min 0.2'],
    ['an ON longer than max_on_seconds', actuator('ESP_P', 6, 'ON', { duration_seconds: 900 }), 'safety rule "ESP_P:*": duration_seconds 900 above max_on_seconds 600'],
  ])('fails %s with 5642 and a message naming the rule', async (_what, step, message) => {
    const t = await harness(policy);
    const ended = await drive(t.ended(t.start({ steps: [step] })));

    expect(ended.status).toBe('failed');
    expect(ended.error_code).toBe(Codes.SAFETY_BLOCKED);
    expect(ended.step_results[0]).toMatchObject({ success: false, error_code: Codes.SAFETY_BLOCKED, message });
    expect(commandsTo(t, 'ESP_P')).toBe(0);
  });

  it('sends an ON without duration with duration_seconds = max_on_seconds, and lets OFF through', async () => {
    const t = await harness(policy);
    const sent: ActuatorCommand[] = [];
    const send = t.sim.send.bind(t.sim);
    vi.spyOn(t.sim, 'send').mockImplementation((command, options) => {
      sent.push({ ...command });
      return send(command, options);
    });

    const ended = await drive(t.ended(t.start({ steps: [actuator('ESP_P', 6, 'ON'), actuator('ESP_P', 5, 'PWM', { value: 0.5 }), actuator('ESP_P', 6, 'OFF')] })));

    expect(ended.status).toBe('completed');
    expect(sent.map((c) => [c.gpio, c.command, c.duration_seconds])).toEqual([
      [6, 'ON', 600],
      [5, 'PWM', 0],
      [6, 'OFF', 0],
    ]);
  });
});
