/**
 * Nested template calls (SPEC 2, issue 6): a step `{"action": {"type": "sequence", "template": ...,
 * "params": {...}}}` runs that template as a child of the run; cancelling or pausing the parent
 * reaches the child. Time is fake so that "the child is in its 10 s flush" is a fact, not a race.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Codes } from '../../src/domain/errors.ts';
import { drive, startApp, useEngineFakeTimers, type AppHarness } from './templates-app.harness.ts';

const VALVE = ['ESP_LINE', 7] as const;

const FLUSH = {
  description: 'Open a valve, flush, close it',
  params: { esp_id: { type: 'string', required: true }, gpio: { type: 'integer', required: true, min: 0, max: 39 }, seconds: { type: 'number', default: 10 } },
  steps: [
    { name: 'Open', action: { type: 'actuator_command', esp_id: '{{esp_id}}', gpio: '{{gpio}}', command: 'ON' } },
    { name: 'Flush', delay_seconds: '{{seconds}}' },
    { name: 'Close', action: { type: 'actuator_command', esp_id: '{{esp_id}}', gpio: '{{gpio}}', command: 'OFF' } },
  ],
};

const parent = (params: Record<string, unknown> = { esp_id: VALVE[0], gpio: VALVE[1] }) => ({
  sequence_id: 'line-care',
  steps: [
    { name: 'Flush the line', action: { type: 'sequence', template: 'flush', params } },
    { name: 'Settle', delay_seconds: 5 },
  ],
});

let h: AppHarness;

beforeEach(async () => {
  useEngineFakeTimers();
  h = await startApp();
  expect((await h.api('PUT', '/sequence-templates/flush', FLUSH)).status).toBe(201);
});

afterEach(async () => {
  await h.close();
  vi.useRealTimers();
});

/** Starts the parent and lets fake time run until the child is 1 s into its 10 s flush, valve ON. */
async function startAndReachFlush(): Promise<string> {
  const started = await h.api('POST', '/sequences', parent());
  expect(started.status).toBe(202);
  await vi.advanceTimersByTimeAsync(1000);
  expect(h.sim.actuator(...VALVE)).toMatchObject({ on: true });
  return started.body.run_id as string;
}

describe('a step that calls a template', () => {
  it('runs the template with its params as a child and waits for it', async () => {
    const started = await h.api('POST', '/sequences', parent());
    const done = await drive(h.ended(started.body.run_id));

    expect(done.status).toBe('completed');
    expect(done.step_results[0]).toMatchObject({ step_name: 'Flush the line', success: true, message: 'Nested sequence completed 3 steps' });
    expect(done.step_results[0].duration_ms).toBeGreaterThanOrEqual(10_000);
    expect(h.sim.actuator(...VALVE)).toMatchObject({ on: false, last_command: 'OFF' });
    expect(h.sim.devices()[0]?.commands).toBe(2);
    // The child speaks through its parent's step: only the parent's run is on the stream.
    const runIds = new Set(h.events.map((e) => (e.data as { run_id?: string }).run_id));
    expect([...runIds]).toEqual([started.body.run_id]);
  });

  it('passes a template’s own parameters down to the template it calls', async () => {
    const put = await h.api('PUT', '/sequence-templates/nightly', {
      sequence_id: 'nightly-{{line}}',
      params: { line: { type: 'integer', required: true, min: 1, max: 39 } },
      steps: [{ name: 'Flush line {{line}}', action: { type: 'sequence', template: 'flush', params: { esp_id: 'ESP_NIGHT', gpio: '{{line}}', seconds: 2 } } }],
    });
    expect(put.status).toBe(201);
    const started = await h.api('POST', '/sequence-templates/nightly/start', { params: { line: 12 } });
    expect(started.body).toMatchObject({ sequence_id: 'nightly-12', template: { name: 'nightly', version: 1 } });
    expect((await drive(h.ended(started.body.run_id))).status).toBe('completed');
    expect(h.sim.actuator('ESP_NIGHT', 12)).toMatchObject({ on: false, last_command: 'OFF' });
  });

  it('refuses a call with a bad parameter before anything starts, at the path of the call', async () => {
    const answer = await h.api('POST', '/sequences', parent({ esp_id: VALVE[0] }));
    expect(answer.status).toBe(422);
    expect(answer.body.error.details).toEqual([
      { path: 'steps[0].action.params.gpio', code: Codes.INVALID_DEFINITION, message: "Missing required parameter 'gpio' (integer)" },
    ]);
    const unknown = await h.api('POST', '/sequences', { steps: [{ action: { type: 'sequence', template: 'nope' } }] });
    expect(unknown.body.error.details).toEqual([{ path: 'steps[0].action.template', code: Codes.INVALID_DEFINITION, message: "Template 'nope' not found" }]);
  });

  it('a redrive validates the definition again, as a new start: a call of a template deleted since is refused with 422 at the call, and nothing starts', async () => {
    h.sim.configure(VALVE[0], { fail: true });
    const started = await h.api('POST', '/sequences', parent());
    expect(await drive(h.ended(started.body.run_id))).toMatchObject({ status: 'failed', failed_step: 0 });
    expect((await h.api('DELETE', '/sequence-templates/flush')).status).toBe(200);

    const redrive = await h.api('POST', `/sequences/${started.body.run_id}/redrive`, {});
    expect(redrive.status).toBe(422);
    expect(redrive.body.error).toMatchObject({ code: Codes.INVALID_DEFINITION, details: [{ path: 'steps[0].action.template', message: "Template 'flush' not found" }] });
    expect((await h.api('GET', '/sequences?limit=10')).body.total).toBe(1);
  });

  it('cancelling the parent cancels the child: its remaining steps never run and the valve is turned OFF', async () => {
    const runId = await startAndReachFlush();

    const cancel = await h.api('POST', `/sequences/${runId}/cancel`, { reason: 'operator' });
    expect(cancel.status).toBe(200);
    const done = await drive(h.ended(runId));

    expect(done.status).toBe('cancelled');
    expect(done.step_results[0]).toMatchObject({ step_name: 'Flush the line', success: false, error_code: Codes.CANCELLED });
    expect(done.cleanup_results).toMatchObject([{ step_name: 'Safe state', success: true, message: 'Turned off ESP_LINE:7' }]);
    expect(h.sim.actuator(...VALVE)).toMatchObject({ on: false });
    // Long after the child's flush would have ended, its own 'Close' step has not run: ON, then the safe state's OFF.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.sim.devices()[0]?.commands).toBe(2);
  });

  it('pausing the parent pauses the child: its flush waits until the parent resumes, its valve OFF meanwhile', async () => {
    const runId = await startAndReachFlush();

    const paused = await h.api('POST', `/sequences/${runId}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ status: 'paused', state: 'paused.off' });
    await vi.advanceTimersByTimeAsync(60_000);
    // The child's 10 s flush would have ended 51 s ago had it not been paused; the child's valve is the run's, so it is OFF.
    expect(h.sim.actuator(...VALVE)).toMatchObject({ on: false });
    expect(h.sim.devices()[0]?.commands).toBe(2);

    expect((await h.api('POST', `/sequences/${runId}/resume`)).body.state).toBe('paused.restoring');
    await vi.advanceTimersByTimeAsync(100);
    expect(h.sim.actuator(...VALVE)).toMatchObject({ on: true });
    const done = await drive(h.ended(runId));
    expect(done.status).toBe('completed');
    expect(h.sim.actuator(...VALVE)).toMatchObject({ on: false, last_command: 'OFF' });
    expect(h.sim.devices()[0]?.commands).toBe(4);
    // 1 s before the pause, 60 s paused, then the 9 s left of the flush.
    expect(done.step_results[0].duration_ms).toBeGreaterThanOrEqual(70_000);
    expect(done.step_results[0].duration_ms).toBeLessThan(71_000);
  });
});
