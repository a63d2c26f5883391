/**
 * Runs stored by the sequence machine before its chart became the logic (SQLite schema v4: the
 * paused substate in `context.resumeTo`, no `awaitingAnswer`) recover after the upgrade. The
 * fixture was written by that code: seven runs stopped the way a crash leaves them, 4.5 s after
 * they started (`tests/fixtures/v4-runs.json`).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite.store.ts';
import { engineHarness } from '../helpers/engine.harness.ts';
import { writeV4Database, type V4Run } from '../helpers/v4-database.ts';

const fixture = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'v4-runs.json'), 'utf8')) as {
  stored_at: number;
  runs: Record<'delaying' | 'executing' | 'pausedDelaying' | 'pausedInFlight' | 'pausedHeld' | 'pausedIdempotent' | 'cleanup', V4Run>;
};
const id = (name: keyof typeof fixture.runs) => fixture.runs[name].run_id;

let dir: string;
let store: SqliteStore;
let h: ReturnType<typeof engineHarness>;

beforeEach(() => {
  vi.useFakeTimers();
  // The server comes back 100 ms after the crash, on the database the v4 code left: opening it
  // migrates every unfinished run to a start record and a snapshot record of its journal.
  vi.setSystemTime(fixture.stored_at + 100);
  dir = mkdtempSync(join(tmpdir(), 'sequencer-v4-'));
  writeV4Database(join(dir, 'v4.db'), Object.values(fixture.runs));
  store = openSqliteStore(join(dir, 'v4.db'));
  h = engineHarness({ store, latencyMs: 0 });
});

afterEach(async () => {
  await h.engine.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  vi.useRealTimers();
});

describe('recovery of runs stored before the chart rebuild (schema v4)', () => {
  it('restores every run in the state it was stored in, paused runs still paused', async () => {
    expect(await h.engine.recover('resume')).toEqual({ resumed: 7, aborted: 0, queued: 0, failed: 0 });
    expect(h.errors).toEqual([]);
    const names = Object.keys(fixture.runs) as (keyof typeof fixture.runs)[];
    const states = Object.fromEntries(await Promise.all(names.map(async (name) => [name, (await h.engine.get(id(name)))?.state])));
    expect(states).toEqual({
      delaying: 'running.delaying',
      executing: 'cleanup.executing',
      pausedDelaying: 'paused.held',
      pausedInFlight: 'paused.held',
      pausedHeld: 'paused.held',
      pausedIdempotent: 'paused.held',
      cleanup: 'cleanup.executing',
    });
  });

  it('a run stored in its delay waits out the rest of it and completes', async () => {
    await h.engine.recover('resume');
    await vi.advanceTimersByTimeAsync(5_300);
    expect(h.events.completed(id('delaying'))).toBeUndefined();
    await vi.advanceTimersByTimeAsync(300);
    expect(h.events.completed(id('delaying'))).toMatchObject({ status: 'completed', steps_completed: 3 });
  });

  it('a run stored with an action in flight fails that step with 5633', async () => {
    await h.engine.recover('resume');
    await vi.advanceTimersByTimeAsync(100);
    expect(h.events.completed(id('executing'))).toMatchObject({ status: 'failed', error_code: 5633 });
    expect((await h.engine.get(id('executing')))?.step_results.map((r) => [r.success, r.error_code])).toEqual([[false, 5633]]);
  });

  it('a run paused in its delay resumes into it with the time it had left', async () => {
    await h.engine.recover('resume');
    await h.engine.resume(id('pausedDelaying'));
    await vi.advanceTimersByTimeAsync(0);
    expect((await h.engine.get(id('pausedDelaying')))?.state).toBe('running.delaying');
    // Paused 1 s into its 10 s delay: 9 s left.
    await vi.advanceTimersByTimeAsync(8_990);
    expect(h.events.completed(id('pausedDelaying'))).toBeUndefined();
    await vi.advanceTimersByTimeAsync(100);
    expect(h.events.completed(id('pausedDelaying'))).toMatchObject({ status: 'completed', steps_completed: 2 });
  });

  it('a run paused while its action was in flight fails that step with 5633 on resume', async () => {
    await h.engine.recover('resume');
    await vi.advanceTimersByTimeAsync(100);
    expect((await h.engine.get(id('pausedInFlight')))?.status).toBe('paused');
    await h.engine.resume(id('pausedInFlight'));
    await vi.advanceTimersByTimeAsync(100);
    expect(h.events.completed(id('pausedInFlight'))).toMatchObject({ status: 'failed', error_code: 5633 });
  });

  it('a run paused with its answer held takes that answer on resume and goes on, without sending the command again', async () => {
    await h.engine.recover('resume');
    await h.engine.resume(id('pausedHeld'));
    await vi.advanceTimersByTimeAsync(1_100);
    expect(h.events.completed(id('pausedHeld'))).toMatchObject({ status: 'completed', steps_completed: 2 });
    expect((await h.engine.get(id('pausedHeld')))?.step_results[0]).toMatchObject({ success: true, message: 'ESP_MID gpio 5 ON ok' });
    // The sim of this process never heard of ESP_MID: the answer was the one held before the crash.
    expect(h.driver.actuator('ESP_MID', 5)).toBeUndefined();
  });

  it('a run paused with an idempotent action in flight sends it again on resume', async () => {
    await h.engine.recover('resume');
    await h.engine.resume(id('pausedIdempotent'));
    await vi.advanceTimersByTimeAsync(1_100);
    expect(h.events.completed(id('pausedIdempotent'))).toMatchObject({ status: 'completed', steps_completed: 2 });
    expect(h.driver.actuator('ESP_SLOW', 5)).toMatchObject({ on: true });
  });

  it('a run stored in its cleanup records the lost cleanup step and still ends cancelled', async () => {
    await h.engine.recover('resume');
    await vi.advanceTimersByTimeAsync(100);
    expect(h.events.completed(id('cleanup'))).toMatchObject({ status: 'cancelled', error_code: 5612 });
    expect((await h.engine.get(id('cleanup')))?.cleanup_results.map((r) => [r.step_name, r.success, r.error_code])).toEqual([
      ['Valve OFF', false, 5633],
      ['Safe state', true, null],
    ]);
  });
});
