/**
 * The last gate of the zombie guard (SPEC 14): a command that reaches the driver after this node's
 * lease validity passed (it waited behind a rate limit, or the process was frozen) is refused there
 * and never reaches the device.
 */
import { describe, expect, it } from 'vitest';
import { leaseGuarded } from '../../src/cluster/lease-guarded-driver.ts';
import { SimDriver } from '../../src/drivers/sim.driver.ts';

const on = { esp_id: 'ESP_1', gpio: 5, command: 'ON' as const, value: 1, duration_seconds: 0, correlation_id: 'c-1' };
const options = () => ({ signal: new AbortController().signal, timeoutMs: 1000 });

describe('a driver guarded by the lease validity', () => {
  it('sends while this node may drive, and refuses with 5642 without telling the device once it may not', async () => {
    const sim = new SimDriver(0);
    let valid = true;
    const driver = leaseGuarded(sim, () => valid);
    expect(await driver.send(on, options())).toMatchObject({ success: true });
    valid = false;
    await expect(driver.send({ ...on, command: 'OFF', value: 0, correlation_id: 'c-2' }, options())).rejects.toMatchObject({ code: 5642 });
    expect(sim.devices().find((device) => device.esp_id === 'ESP_1')).toMatchObject({ commands: 1 });
  });
});
