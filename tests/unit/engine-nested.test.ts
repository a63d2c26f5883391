import { describe, expect, it, vi } from 'vitest';
import { actuatorStep, definition, delayStep } from '../helpers/definition.builder.ts';
import { useEngineHarness } from '../helpers/engine.harness.ts';

const nested = (steps: Record<string, unknown>[], extra: Record<string, unknown> = {}) => ({
  name: 'Child',
  action: { type: 'sequence', steps, ...extra },
});

/**
 * Every event type an actor of the engine's system processed. (A run's end is also relayed, and
 * inspected, on its way to the stand-in parent, which is not an actor and caches nothing.)
 */
const received = new Set<string>();

describe('engine: nested runs', () => {
  const h = useEngineHarness({
    inspect: (event) => {
      if (event.type === '@xstate.event' && 'getSnapshot' in event.actorRef) received.add(event.event.type);
    },
  });

  it('when the inline child completes, the parent step completes and the parent goes on', async () => {
    const { run_id } = h.engine.start(definition([nested([actuatorStep({}, 'ESP_C'), delayStep(1)]), actuatorStep()]));
    await vi.advanceTimersByTimeAsync(2000);
    expect(h.events.steps(run_id)).toEqual(['0:starting', '0:completed', '1:starting', '1:completed']);
    expect((await h.engine.get(run_id))?.step_results[0]).toMatchObject({ success: true, message: 'Nested sequence completed 2 steps' });
    expect(h.driver.actuator('ESP_C', 5)?.on).toBe(true);
  });

  it('the device is told the same command with its defaults filled, at top level and in a child', async () => {
    const sent: unknown[] = [];
    const send = h.driver.send.bind(h.driver);
    vi.spyOn(h.driver, 'send').mockImplementation((command, options) => {
      sent.push(command);
      return send(command, options);
    });
    const { run_id } = h.engine.start(definition([actuatorStep({}, 'ESP_TOP'), nested([actuatorStep({}, 'ESP_C')])]));
    await vi.advanceTimersByTimeAsync(1000);
    expect((await h.engine.get(run_id))?.status).toBe('completed');
    const told = { gpio: 5, command: 'ON', value: 1, duration_seconds: 0 };
    expect(sent).toEqual([expect.objectContaining({ esp_id: 'ESP_TOP', ...told }), expect.objectContaining({ esp_id: 'ESP_C', ...told })]);
  });

  it('no actor hears of a run ending by an event type that names the run (XState caches per event type, forever)', async () => {
    received.clear();
    for (let i = 0; i < 5; i++) h.engine.start(definition([nested([actuatorStep({}, 'ESP_C')])]));
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.engine.runningCount).toBe(0);
    expect([...received].filter((type) => type.includes('run-'))).toEqual([]);
    expect(received).toContain('RUN_ENDED');
  });

  it('the child publishes no events of its own: only the parent run appears on the stream', async () => {
    const { run_id } = h.engine.start(definition([nested([actuatorStep({}, 'ESP_C')])]));
    await vi.advanceTimersByTimeAsync(1000);
    const runIds = new Set(h.events.all.map((e) => (e.data as { run_id?: string }).run_id));
    expect([...runIds]).toEqual([run_id]);
  });

  it('when the child fails, the parent step fails with the child error and the parent aborts', async () => {
    h.driver.configure('ESP_BAD', { fail: true });
    const { run_id } = h.engine.start(definition([nested([actuatorStep({}, 'ESP_BAD')]), actuatorStep()]));
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.events.steps(run_id)).toEqual(['0:starting', '0:failed']);
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'failed', error_code: 5614 });
    expect((await h.engine.get(run_id))?.step_results[0]?.message).toContain('Nested sequence failed');
  });

  it('cancelling the parent cancels the child and aborts the child action in flight', async () => {
    h.driver.configure('ESP_HANG', { hang: true });
    const signals: AbortSignal[] = [];
    const send = h.driver.send.bind(h.driver);
    vi.spyOn(h.driver, 'send').mockImplementation((command, options) => {
      signals.push(options.signal);
      const answer = send(command, options);
      answer.catch(() => {});
      return answer;
    });
    const { run_id } = h.engine.start(definition([nested([actuatorStep({}, 'ESP_HANG'), actuatorStep({}, 'ESP_NEVER')])]));
    await vi.advanceTimersByTimeAsync(100);
    await h.engine.cancel(run_id);
    // The child hears of it right after the parent's transition.
    await vi.advanceTimersByTimeAsync(0);
    expect(signals[0]?.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(100);
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'cancelled', step_results: [expect.objectContaining({ error_code: 5612 })] });
    expect(h.driver.actuator('ESP_NEVER', 5)).toBeUndefined();
    expect(h.engine.runningCount).toBe(0);
  });

  it('pausing the parent pauses the child delay and resuming resumes it with its remaining time', async () => {
    const { run_id } = h.engine.start(definition([nested([delayStep(10)])]));
    await vi.advanceTimersByTimeAsync(3000);
    await h.engine.pause(run_id);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(h.events.steps(run_id)).toEqual(['0:starting']);
    await h.engine.resume(run_id);
    await vi.advanceTimersByTimeAsync(6999);
    expect(h.events.steps(run_id)).toEqual(['0:starting']);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.events.steps(run_id)).toEqual(['0:starting', '0:completed']);
  });

  it('a child that outlives the nested step timeout is cancelled and the step fails with 5615', async () => {
    const { run_id } = h.engine.start(definition([{ ...nested([delayStep(10)]), timeout_seconds: 2 }]));
    await vi.advanceTimersByTimeAsync(2000);
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'failed', error_code: 5615 });
    expect(h.engine.runningCount).toBe(0);
  });

  it('three levels of nesting run; a fourth is refused with 5618 at its JSON path', async () => {
    const level3 = nested([actuatorStep({}, 'ESP_DEEP')]);
    const { run_id } = h.engine.start(definition([nested([level3])]));
    await vi.advanceTimersByTimeAsync(1000);
    expect((await h.engine.get(run_id))?.status).toBe('completed');
    expect(h.driver.actuator('ESP_DEEP', 5)?.on).toBe(true);
    let error: unknown;
    try {
      h.engine.start(definition([nested([nested([level3])])]));
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 5618, details: [{ path: 'steps[0].action.steps[0].action.steps[0].action', code: 5618 }] });
  });
});
