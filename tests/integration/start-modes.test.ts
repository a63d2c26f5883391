/**
 * Start modes of SPEC 6 through the HTTP API, with sequences started directly and from templates:
 * single refuses, parallel runs side by side, queued waits in FIFO order (at most 10, cancellable
 * while pending), restart cancels the running one and starts only once its safe state has run.
 * "Modes survive a restart" belongs to the durability tests.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Codes } from '../../src/domain/errors.ts';
import { drive, startApp, useEngineFakeTimers, type AppHarness } from './templates-app.harness.ts';

/** Keeps a run busy until it is cancelled (the longest delay the default max duration allows). */
const HOLD = { name: 'Hold', delay_seconds: 3600 };
const on = (esp: string, gpio: number) => ({ name: `ON ${esp}:${gpio}`, action: { type: 'actuator_command', esp_id: esp, gpio, command: 'ON' } });

let h: AppHarness;

beforeEach(async () => {
  h = await startApp();
});

afterEach(async () => {
  await h.close();
});

async function start(definition: Record<string, unknown>) {
  return h.api('POST', '/sequences', definition);
}

/** Resolves once a run's main step `index` has completed. */
function stepDone(runId: string, index: number) {
  return h.next('sequence_step', (d) => d.run_id === runId && d.phase === 'steps' && d.step === index && d.status === 'completed');
}

function indexOf(type: string, runId: string, match: (data: any) => boolean = () => true): number {
  return h.events.findIndex((e) => e.type === type && (e.data as { run_id?: string }).run_id === runId && match(e.data));
}

describe('mode single', () => {
  it('refuses a second start of a running sequence_id with 409/5610 and accepts one once it ended', async () => {
    const first = await start({ sequence_id: 'irrigate-1', steps: [HOLD] });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ sequence_id: 'irrigate-1', status: 'running' });

    const second = await start({ sequence_id: 'irrigate-1', steps: [HOLD] });
    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({ code: Codes.ALREADY_RUNNING, name: 'SEQ_ALREADY_RUNNING' });
    expect(second.body.error.message).toContain(first.body.run_id);

    await h.api('POST', '/sequences/irrigate-1/cancel', { reason: 'done testing' });
    await h.ended(first.body.run_id);
    const third = await start({ sequence_id: 'irrigate-1', steps: [{ delay_seconds: 0 }] });
    expect(third.status).toBe(202);
    expect((await h.ended(third.body.run_id)).status).toBe('completed');
  });
});

describe('mode parallel', () => {
  it('runs starts of one sequence_id side by side, each with its own run_id; GET by sequence_id gives the newest', async () => {
    const a = await start({ sequence_id: 'mist', mode: 'parallel', steps: [HOLD] });
    const b = await start({ sequence_id: 'mist', mode: 'parallel', steps: [HOLD] });
    expect([a.status, b.status]).toEqual([202, 202]);
    expect([a.body.status, b.body.status]).toEqual(['running', 'running']);
    expect(a.body.run_id).not.toBe(b.body.run_id);

    expect((await h.api('GET', '/sequences/mist')).body).toMatchObject({ run_id: b.body.run_id, status: 'running', mode: 'parallel' });
    expect((await h.api('GET', `/sequences/${a.body.run_id}`)).body.status).toBe('running');
    const running = (await h.api('GET', '/sequences?running_only=true')).body;
    expect(running.sequences.map((p: { run_id: string }) => p.run_id).sort()).toEqual([a.body.run_id, b.body.run_id].sort());
  });
});

describe('mode queued', () => {
  beforeEach(async () => {
    // Started from a template, as a rules engine would: one sequence_id per zone, queued.
    const put = await h.api('PUT', '/sequence-templates/dose', {
      sequence_id: 'dose-{{zone}}',
      mode: 'queued',
      params: { zone: { type: 'integer', required: true }, hold_seconds: { type: 'number', default: 0, min: 0, max: 3600 } },
      steps: [{ name: 'Dose zone {{zone}}', delay_seconds: '{{hold_seconds}}' }],
    });
    expect(put.status).toBe(201);
  });

  const dose = (zone: number, hold_seconds = 0) => h.api('POST', '/sequence-templates/dose/start', { params: { zone, hold_seconds } });

  it('starts waiting runs one after the other in FIFO order once the running one ends', async () => {
    const first = await dose(1, 3600);
    const second = await dose(1);
    const third = await dose(1);
    expect([first.body.status, second.body.status, third.body.status]).toEqual(['running', 'pending', 'pending']);
    expect((await h.api('GET', `/sequences/${second.body.run_id}`)).body).toMatchObject({ status: 'pending', template: { name: 'dose', version: 1 } });
    // Another zone is another sequence_id: it does not wait.
    expect((await dose(2)).body.status).toBe('running');

    await h.api('POST', `/sequences/${first.body.run_id}/cancel`);
    const [p2, p3] = await Promise.all([h.ended(second.body.run_id), h.ended(third.body.run_id)]);
    expect([p2.status, p3.status]).toEqual(['completed', 'completed']);

    const ended1 = indexOf('sequence_completed', first.body.run_id);
    const started2 = indexOf('sequence_started', second.body.run_id);
    const ended2 = indexOf('sequence_completed', second.body.run_id);
    const started3 = indexOf('sequence_started', third.body.run_id);
    expect(ended1).toBeLessThan(started2);
    expect(ended2).toBeLessThan(started3);
  });

  it('keeps at most 10 runs waiting and refuses the 11th with 409/5610', async () => {
    await dose(1, 3600);
    for (let i = 0; i < 10; i++) expect((await dose(1)).body.status).toBe('pending');
    const refused = await dose(1);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe(Codes.ALREADY_RUNNING);
    expect(refused.body.error.message).toContain('10 runs queued');
    const pending = (await h.api('GET', '/sequences?status=pending')).body;
    expect(pending.total).toBe(10);
  });

  it('cancels a waiting run before it starts: it ends cancelled and never starts, the next one runs', async () => {
    const first = await dose(1, 3600);
    const second = await dose(1);
    const third = await dose(1);

    const cancel = await h.api('POST', `/sequences/${second.body.run_id}/cancel`, { reason: 'not needed' });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ success: true, reason: 'not needed' });
    const cancelled = (await h.api('GET', `/sequences/${second.body.run_id}`)).body;
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.started_at).toBeNull();
    // A cancelled run cannot be cancelled again.
    expect((await h.api('POST', `/sequences/${second.body.run_id}/cancel`)).status).toBe(409);

    await h.api('POST', `/sequences/${first.body.run_id}/cancel`);
    expect((await h.ended(third.body.run_id)).status).toBe('completed');
    expect(h.typesOf(second.body.run_id)).toEqual(['sequence_completed']);
    expect(h.events[indexOf('sequence_completed', second.body.run_id)]?.data).toMatchObject({
      status: 'cancelled',
      error: 'not needed',
      error_code: Codes.CANCELLED,
    });
    expect((await h.api('GET', `/sequences/${second.body.run_id}`)).body.status).toBe('cancelled');
  });
});

describe('mode restart', () => {
  const vent = { sequence_id: 'vent', mode: 'restart', steps: [on('ESP_VENT', 4), HOLD] };

  it("cancels the running run with reason 'restarted'; its safe state turns the actuator OFF before the new run starts", async () => {
    const old = await start(vent);
    await stepDone(old.body.run_id, 0);
    expect(h.sim.actuator('ESP_VENT', 4)).toMatchObject({ on: true });

    // What the device showed at the moment the new run started.
    let stateAtStart: boolean | undefined;
    const unsubscribe = h.services.engine.events.subscribe((event) => {
      if (event.type === 'sequence_started' && (event.data as { sequence_id: string }).sequence_id === 'vent') stateAtStart = h.sim.actuator('ESP_VENT', 4)?.on;
    });
    const fresh = await start(vent);
    expect(fresh.status).toBe(202);
    expect(fresh.body.status).toBe('pending');

    const oldEnd = await h.ended(old.body.run_id);
    await stepDone(fresh.body.run_id, 0);
    unsubscribe();

    expect(oldEnd).toMatchObject({ status: 'cancelled', error: 'Cancelled: restarted', error_code: Codes.CANCELLED });
    expect(oldEnd.cleanup_results).toMatchObject([{ step_name: 'Safe state', success: true, message: 'Turned off ESP_VENT:4' }]);
    expect(stateAtStart).toBe(false);
    // The new run drives it again once it runs.
    expect(h.sim.actuator('ESP_VENT', 4)).toMatchObject({ on: true });

    const cancelled = indexOf('sequence_cancelled', old.body.run_id);
    const safeStateDone = indexOf('sequence_step', old.body.run_id, (d) => d.phase === 'cleanup' && d.status === 'completed');
    const oldCompleted = indexOf('sequence_completed', old.body.run_id);
    const freshStarted = indexOf('sequence_started', fresh.body.run_id);
    expect(cancelled).toBeGreaterThanOrEqual(0);
    expect(cancelled).toBeLessThan(safeStateDone);
    expect(safeStateDone).toBeLessThan(oldCompleted);
    expect(oldCompleted).toBeLessThan(freshStarted);
    expect(h.events[cancelled]?.data).toMatchObject({ reason: expect.stringContaining('restarted') });
  });

  it('starts at once when nothing of that sequence_id is running', async () => {
    const run = await start(vent);
    expect(run.body.status).toBe('running');
  });

  it('a second restart supersedes the first one still waiting: only the newest runs', async () => {
    // Fake time holds the old run in its safe state while both restarts arrive.
    await h.close();
    useEngineFakeTimers();
    h = await startApp();
    try {
      const old = await start(vent);
      await drive(stepDone(old.body.run_id, 0));
      const first = await start(vent);
      const second = await start(vent);
      expect([first.body.status, second.body.status]).toEqual(['pending', 'pending']);
      expect((await h.api('GET', `/sequences/${old.body.run_id}`)).body.state).toMatch(/^cleanup/);

      await drive(stepDone(second.body.run_id, 0));
      expect((await h.api('GET', `/sequences/${first.body.run_id}`)).body.status).toBe('cancelled');
      expect(h.typesOf(first.body.run_id)).toEqual(['sequence_completed']);
      expect((await h.api('GET', '/sequences/vent')).body).toMatchObject({ run_id: second.body.run_id, status: 'running' });
    } finally {
      vi.useRealTimers();
    }
  });
});
