import { describe, expect, it } from 'vitest';
import { LeaseTable, leaseKey } from '../../src/safety/lease-table.ts';

const pump = leaseKey('ESP_1', 5);
const valve = leaseKey('ESP_1', 6);

describe('LeaseTable', () => {
  it('keys an actuator as esp_id:gpio', () => {
    expect(pump).toBe('ESP_1:5');
  });

  it('grants a free actuator and lets the holder command it again', () => {
    const leases = new LeaseTable();
    expect(leases.acquire(pump, { runId: 'r1', priority: 100 })).toEqual({ ok: true });
    expect(leases.acquire(pump, { runId: 'r1', priority: 100 })).toEqual({ ok: true });
    expect(leases.holderOf(pump)).toEqual({ runId: 'r1', priority: 100 });
    expect(leases.keysOf('r1')).toEqual([pump]);
  });

  it('refuses the second of two runs asking in the same tick and names the holder', () => {
    const leases = new LeaseTable();
    const first = leases.acquire(pump, { runId: 'r1', priority: 100 });
    const second = leases.acquire(pump, { runId: 'r2', priority: 100 });
    expect(first.ok).toBe(true);
    expect(second).toEqual({ ok: false, holder: { runId: 'r1', priority: 100 }, reason: 'held' });
    expect(leases.holderOf(pump)?.runId).toBe('r1');
  });

  it('never lets an equally important run take over', () => {
    const leases = new LeaseTable();
    leases.acquire(pump, { runId: 'r1', priority: 5 });
    expect(leases.acquire(pump, { runId: 'r2', priority: 5 })).toMatchObject({ ok: false, holder: { runId: 'r1' } });
    expect(leases.wasTakenOver(pump, 'r1')).toBe(false);
  });

  it('refuses a less important run', () => {
    const leases = new LeaseTable();
    leases.acquire(pump, { runId: 'r1', priority: 10 });
    expect(leases.acquire(pump, { runId: 'r2', priority: 50 })).toMatchObject({ ok: false, reason: 'held' });
  });

  it('lets a strictly more important run take over and tells it whom it took from', () => {
    const leases = new LeaseTable();
    leases.acquire(pump, { runId: 'low', priority: 100 });
    leases.acquire(valve, { runId: 'low', priority: 100 });
    const result = leases.acquire(pump, { runId: 'high', priority: 1 });
    expect(result).toEqual({ ok: true, previous: { runId: 'low', priority: 100 } });
    expect(leases.holderOf(pump)?.runId).toBe('high');
    expect(leases.keysOf('low')).toEqual([valve]);
    expect(leases.keysOf('high')).toEqual([pump]);
    expect(leases.wasTakenOver(pump, 'low')).toBe(true);
    expect(leases.wasTakenOver(valve, 'low')).toBe(false);
  });

  it('fails the old holder once on its next command, even after the taker released', () => {
    const leases = new LeaseTable();
    leases.acquire(pump, { runId: 'low', priority: 100 });
    leases.acquire(pump, { runId: 'high', priority: 1 });
    leases.release(pump, 'high');
    expect(leases.acquire(pump, { runId: 'low', priority: 100 })).toEqual({
      ok: false,
      holder: { runId: 'high', priority: 1 },
      reason: 'taken_over',
    });
    expect(leases.wasTakenOver(pump, 'low')).toBe(false);
    expect(leases.acquire(pump, { runId: 'low', priority: 100 })).toEqual({ ok: true });
  });

  it('releases only for the run that holds the lease', () => {
    const leases = new LeaseTable();
    leases.acquire(pump, { runId: 'r1', priority: 100 });
    expect(leases.release(pump, 'r2')).toBe(false);
    expect(leases.holderOf(pump)?.runId).toBe('r1');
    expect(leases.release(pump, 'r1')).toBe(true);
    expect(leases.holderOf(pump)).toBeUndefined();
    expect(leases.keysOf('r1')).toEqual([]);
    expect(leases.acquire(pump, { runId: 'r2', priority: 100 }).ok).toBe(true);
  });

  it('releaseAll frees every key of the run, returns them, and forgets takeovers', () => {
    const leases = new LeaseTable();
    const drip = leaseKey('ESP_2', 1);
    leases.acquire(pump, { runId: 'r1', priority: 100 });
    leases.acquire(valve, { runId: 'r1', priority: 100 });
    leases.acquire(drip, { runId: 'r1', priority: 100 });
    leases.acquire(drip, { runId: 'boss', priority: 0 });
    leases.acquire(leaseKey('ESP_3', 2), { runId: 'r2', priority: 100 });

    expect(leases.releaseAll('r1').sort()).toEqual([pump, valve].sort());
    expect(leases.holderOf(pump)).toBeUndefined();
    expect(leases.holderOf(drip)?.runId).toBe('boss');
    expect(leases.wasTakenOver(drip, 'r1')).toBe(false);
    expect(leases.size).toBe(2);
    expect(leases.releaseAll('r1')).toEqual([]);
  });

  it('remembers every actuator a run was granted until the run is forgotten', () => {
    const leases = new LeaseTable();
    leases.acquire(pump, { runId: 'r1', priority: 100 });
    leases.acquire(valve, { runId: 'r1', priority: 100 });
    leases.release(valve, 'r1');
    leases.acquire(leaseKey('ESP_9', 1), { runId: 'r2', priority: 100 });
    leases.releaseAll('r1');
    expect(leases.touched('r1').sort()).toEqual([pump, valve].sort());
    expect([...leases.allTouched()].sort()).toEqual(['ESP_1:5', 'ESP_1:6', 'ESP_9:1']);

    leases.forget('r1');
    expect(leases.touched('r1')).toEqual([]);
    expect([...leases.allTouched()]).toEqual(['ESP_9:1']);
  });

  it('forget also releases what the run still holds', () => {
    const leases = new LeaseTable();
    leases.acquire(pump, { runId: 'r1', priority: 100 });
    expect(leases.forget('r1')).toEqual([pump]);
    expect(leases.size).toBe(0);
  });
});
