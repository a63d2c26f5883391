/**
 * The lag histogram renders in a prom-client registry exactly as prom-client's own Histogram of the
 * same buckets and observations does (dashboards and the benchmarks read those lines).
 */
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LagHistogram } from '../../src/metrics/lag-histogram.ts';

const BUCKETS = [0.0005, 0.001, 0.01, 0.1, 1];
const VALUES = [0, 0.0002, 0.0005, 0.0007, 0.001, 0.004, 0.1, 0.5, 1, 3, 40];

async function rendered(observe: (registry: Registry) => (value: number) => void): Promise<string> {
  const registry = new Registry();
  const add = observe(registry);
  for (const value of VALUES) add(value);
  return registry.metrics();
}

describe('LagHistogram', () => {
  it('renders as a prom-client Histogram: cumulative buckets, +Inf, sum and count', async () => {
    const ours = await rendered((registry) => {
      const h = new LagHistogram({ name: 'lag_seconds', help: 'A lag', buckets: BUCKETS, registry });
      return (v) => h.observe(v);
    });
    const theirs = await rendered((registry) => {
      const h = new Histogram({ name: 'lag_seconds', help: 'A lag', buckets: BUCKETS, registers: [registry] });
      return (v) => h.observe(v);
    });
    expect(ours).toBe(theirs);
    expect(ours).toContain('lag_seconds_bucket{le="0.001"} 5');
    expect(ours).toContain('lag_seconds_count 11');
  });

  it('renders zeros before any observation, as prom-client does', async () => {
    const ours = new Registry();
    new LagHistogram({ name: 'idle_seconds', help: 'Idle', buckets: BUCKETS, registry: ours });
    const theirs = new Registry();
    new Histogram({ name: 'idle_seconds', help: 'Idle', buckets: BUCKETS, registers: [theirs] });
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });
});
