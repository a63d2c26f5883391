/**
 * The engine on a store shared by several nodes (SPEC 14), with a store that plays the other
 * nodes: its renewals and commits say which runs this node lost. A lost run stops on this node
 * without any effect (the new owner drives it); a node whose lease validity has passed without a
 * renewal sends no actuator command at all.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type { ClaimedRun, CommitResult, RenewResult, RunStore } from '../../src/store/run-store.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite.store.ts';
import { actuatorStep, definition, delayStep } from '../helpers/definition.builder.ts';
import { engineHarness, recordSends, type EngineHarness } from '../helpers/engine.harness.ts';

/** An in-memory store whose ownership answers what the test says. */
function sharedStore() {
  const inner = openSqliteStore(':memory:');
  const control = {
    /** What the next renewal answers (a promise that never settles: the database does not answer). */
    renew: (): Promise<RenewResult> => Promise.resolve({ kept: [], lost: [] }),
    /** Runs the next commits find owned by another node. */
    fencedOut: new Set<string>(),
    claims: [] as ClaimedRun[],
    /** What the store held when the engine handed its runs over (the unfinished runs in it then). */
    handedOver: null as string[] | null,
  };
  const store = Object.create(inner) as RunStore;
  Object.assign(store, {
    ownership: {
      nodeId: 'node-a',
      leaseMs: 10_000,
      renewLeases: () => control.renew(),
      claimExpired: async () => control.claims.splice(0),
      release: () => {},
      handOver: async () => {
        control.handedOver = (await inner.unfinishedRuns()).map((run) => run.run_id);
      },
    },
    commit: async (batch: Parameters<RunStore['commit']>[0]): Promise<CommitResult> => {
      const lost = [...new Set([...batch.records, ...batch.ends].map((r) => r.run_id))].filter((id) => control.fencedOut.has(id));
      await inner.commit({ ...batch, records: batch.records.filter((r) => !lost.includes(r.run_id)), ends: batch.ends.filter((e) => !lost.includes(e.run_id)) });
      return { lost };
    },
  });
  return { store, inner, control };
}

let h: EngineHarness;
let shared: ReturnType<typeof sharedStore>;
/** Calls of an action whose effect leaves the process (as an MQTT command does): it waits for its commit. */
const webhook = vi.fn(async () => 'sent');

beforeEach(async () => {
  vi.useFakeTimers();
  webhook.mockClear();
  shared = sharedStore();
  h = engineHarness({
    store: shared.store,
    latencyMs: 0,
    // The lease validity on the fake clock too.
    monotonicNow: () => Date.now(),
    executors: (registry) => registry.register({ type: 'webhook', schema: z.object({ type: z.literal('webhook') }).loose(), execute: webhook }),
  });
  await h.engine.recover('resume');
});

afterEach(async () => {
  await h.engine.close();
  await shared.inner.close();
  vi.useRealTimers();
});

describe('an engine on a store shared by several nodes', () => {
  it('shows this node as the node of its runs', async () => {
    const { run_id } = h.engine.start(definition([delayStep(5)]));
    expect((await h.engine.get(run_id))?.node).toBe('node-a');
  });

  it('sends no actuator command once its lease validity has passed without a renewal', async () => {
    const { sent } = recordSends(h.driver);
    shared.control.renew = () => new Promise(() => {});
    const { run_id } = h.engine.start(definition([delayStep(9), actuatorStep()]));
    // 9 s after the last renewal sent (none: the start), past the 10 s lease less the 3 s margin.
    await vi.advanceTimersByTimeAsync(9_500);
    expect(sent).toHaveLength(0);
    expect(h.engine.activeRuns()).toEqual([]);
    expect(h.events.completed(run_id)).toBeUndefined();
    expect(h.errors.map((e) => e.message)).toContain('leases not renewed in time: 1 runs stopped on this node, another node takes them over');
  });

  it('refuses new starts with 503 while it cannot renew, instead of accepting runs it would drop', async () => {
    shared.control.renew = () => new Promise(() => {});
    await vi.advanceTimersByTimeAsync(7_500);
    expect(() => h.engine.start(definition([actuatorStep()]))).toThrow(expect.objectContaining({ code: 5630, status: 503 }));
  });

  it('drives its runs as long as renewals come back', async () => {
    const { sent } = recordSends(h.driver);
    const { run_id } = h.engine.start(definition([delayStep(9), actuatorStep()]));
    await vi.advanceTimersByTimeAsync(9_500);
    expect(sent).toHaveLength(1);
    expect(h.events.completed(run_id)?.status).toBe('completed');
  });

  it('stops a run the renewal reports lost, without its cleanup or safe state, and forgets it', async () => {
    const { sent } = recordSends(h.driver);
    const { run_id } = h.engine.start(definition([actuatorStep(), delayStep(30)], { cleanup_steps: [actuatorStep({ name: 'Off', action: { type: 'actuator_command', esp_id: 'ESP_1', gpio: 5, command: 'OFF' } })] }));
    await vi.advanceTimersByTimeAsync(100);
    expect(sent).toHaveLength(1);
    shared.control.renew = () => Promise.resolve({ kept: [], lost: [run_id] });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent).toHaveLength(1);
    expect(h.engine.activeRuns()).toEqual([]);
    expect(h.events.completed(run_id)).toBeUndefined();
  });

  it('stops a run whose commit another node fenced out before the action it asked for leaves', async () => {
    const { run_id } = h.engine.start(definition([delayStep(1), { name: 'Notify', action: { type: 'webhook' } }]));
    await vi.advanceTimersByTimeAsync(100);
    shared.control.fencedOut.add(run_id);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(webhook).not.toHaveBeenCalled();
    expect(h.engine.activeRuns()).toEqual([]);
  });

  it('hands its runs over when it closes, once they are stored as they are', async () => {
    const { run_id } = h.engine.start(definition([delayStep(30)]));
    await vi.advanceTimersByTimeAsync(100);
    await h.engine.close();
    expect(shared.control.handedOver).toEqual([run_id]);
  });

  it('recovers the runs it claims from other nodes as after a restart', async () => {
    const other = engineHarness({ store: shared.inner, latencyMs: 0 });
    const { run_id } = other.engine.start(definition([delayStep(2), actuatorStep()]));
    await vi.advanceTimersByTimeAsync(500);
    // The other node dies here; its run is claimed by this one (fence 2) at the next renewal.
    const [unfinished] = await shared.inner.unfinishedRuns();
    await other.engine.close();
    shared.control.claims.push({ ...(unfinished as NonNullable<typeof unfinished>), fence: 2 });
    const { sent } = recordSends(h.driver);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(sent).toHaveLength(1);
    expect(h.events.completed(run_id)?.status).toBe('completed');
    expect((await h.engine.get(run_id))?.node).toBe('node-a');
  });
});
