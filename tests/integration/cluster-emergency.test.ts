import { describe, expect, it } from 'vitest';
import { call, twoNodesPerFile, until } from './cluster-harness.ts';
import { connect, type TestServer } from './ws-harness.ts';

const nodes = twoNodesPerFile();

const post = (server: TestServer, path: string, body: object = {}) => call(server, 'POST', path, body);

/** Switches an actuator on, then waits ten minutes. */
const valveRun = (sequenceId: string, espId: string) => ({
  sequence_id: sequenceId,
  steps: [
    { name: 'open', action: { type: 'actuator_command', esp_id: espId, gpio: 5, command: 'ON' } },
    { name: 'soak', delay_seconds: 600 },
  ],
});

describe('the emergency stop of a cluster', () => {
  it('pressed on one node stops the runs of every node and turns their actuators OFF; cleared on any node it lifts everywhere', async () => {
    const { a, b } = nodes;
    const onB = await connect(b.wsUrl());
    const runA = await a.start(valveRun('hall-a', 'ESP_A'));
    const runB = await b.start(valveRun('hall-b', 'ESP_B'));
    await onB.waitFor((m) => m.type === 'sequence_step' && (m.data as { step_name: string; status: string }).step_name === 'soak' && (m.data as { run_id: string }).run_id === runB.run_id);
    expect(b.services.sim?.actuator('ESP_B', 5)?.on).toBe(true);

    expect((await post(a, '/emergency-stop', { reason: 'leak in hall a' })).status).toBe(200);
    const endedOnB = await onB.completed(runB.run_id);
    expect(endedOnB.data).toMatchObject({ status: 'cancelled' });
    expect((await onB.completed(runA.run_id)).data).toMatchObject({ status: 'cancelled' });
    await until(() => b.services.sim?.actuator('ESP_B', 5)?.on === false);
    expect(a.services.sim?.actuator('ESP_A', 5)?.on).toBe(false);
    const refused = await post(b, '/sequences', valveRun('hall-b', 'ESP_B'));
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 5642 } } });

    expect((await post(b, '/emergency-stop/clear')).status).toBe(200);
    await until(() => !a.services.safety.latch.active);
    expect((await post(a, '/sequences', { sequence_id: 'after', steps: [{ name: 'x', delay_seconds: 0 }] })).status).toBe(202);
    onB.ws.close();
  });
});
