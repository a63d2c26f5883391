/**
 * The runs list is newest first by `started_at` (SPEC 7): a queued run that has not started yet
 * sorts by the time it was queued and shows `queued_at`; once it starts, by its start.
 */
import { describe, expect, it, vi } from 'vitest';
import { definition, delayStep } from '../helpers/definition.builder.ts';
import { useEngineHarness } from '../helpers/engine.harness.ts';

describe('GET /sequences order', () => {
  const h = useEngineHarness();
  const page = async () => (await h.engine.list({ limit: 10, offset: 0 })).items.map((p) => ({ run: p.run_id, started_at: p.started_at, queued_at: p.queued_at }));

  it('lists a queued run by queued_at until it starts, then by its started_at, newest first', async () => {
    const t0 = Date.now();
    const at = (ms: number) => new Date(t0 + ms).toISOString();
    const a = h.engine.start(definition([delayStep(10)], { sequence_id: 'zone', mode: 'queued' })).run_id;
    await vi.advanceTimersByTimeAsync(1000);
    const b = h.engine.start(definition([delayStep(1)], { sequence_id: 'zone', mode: 'queued' })).run_id;
    await vi.advanceTimersByTimeAsync(1000);
    const c = h.engine.start(definition([delayStep(60)], { sequence_id: 'other' })).run_id;
    expect(await page()).toEqual([
      { run: c, started_at: at(2000), queued_at: null },
      { run: b, started_at: null, queued_at: at(1000) },
      { run: a, started_at: at(0), queued_at: null },
    ]);

    await vi.advanceTimersByTimeAsync(8500);
    expect(await page()).toEqual([
      { run: b, started_at: at(10_000), queued_at: at(1000) },
      { run: c, started_at: at(2000), queued_at: null },
      { run: a, started_at: at(0), queued_at: null },
    ]);
  });
});
