import { describe, expect, it } from 'vitest';
import { call, twoNodesPerFile } from './cluster-harness.ts';
import { connect } from './ws-harness.ts';

const nodes = twoNodesPerFile();

/** Switches ESP_X gpio 5 on, then waits ten minutes. */
const pumpRun = (sequenceId: string, priority = 100) => ({
  sequence_id: sequenceId,
  priority,
  steps: [
    { name: 'pump on', action: { type: 'actuator_command', esp_id: 'ESP_X', gpio: 5, command: 'ON' } },
    { name: 'run', delay_seconds: 600 },
  ],
});

describe('actuator leases across nodes', () => {
  it('refuses a run on node B the actuator a run on node A holds (5640, naming both), and lets a more important one take it over', async () => {
    const { a, b } = nodes;
    const onB = await connect(b.wsUrl());
    const holder = await a.start(pumpRun('pump-a'));
    await onB.waitFor((m) => m.type === 'sequence_step' && (m.data as { step_name: string }).step_name === 'run');

    const rival = await b.start(pumpRun('pump-b'));
    const refused = await onB.completed(rival.run_id);
    expect(refused.data).toMatchObject({ status: 'failed', error_code: 5640 });
    const progress = (await call(b, 'GET', `/sequences/${rival.run_id}`)).body as { step_results: { message: string }[] };
    expect(progress.step_results[0]?.message).toBe(`Actuator ESP_X:5 is held by run ${holder.run_id} (priority 100) on node node-a`);
    // The refused run never commanded it, so its safe state left it alone on every node.
    expect(b.services.sim?.actuator('ESP_X', 5)).toBeUndefined();
    expect(a.services.sim?.actuator('ESP_X', 5)?.last_command).toBe('ON');

    const urgent = await b.start(pumpRun('pump-urgent', 1));
    await onB.waitFor((m) => m.type === 'sequence_step' && (m.data as { run_id: string; step_name: string }).run_id === urgent.run_id && (m.data as { step_name: string }).step_name === 'run');
    expect(b.services.sim?.actuator('ESP_X', 5)?.on).toBe(true);
    // The run it was taken from ends; its safe state does not switch off what the urgent run drives now.
    await call(a, 'POST', `/sequences/${holder.run_id}/cancel`, {});
    await onB.completed(holder.run_id);
    expect(a.services.sim?.actuator('ESP_X', 5)?.last_command).toBe('ON');
    onB.ws.close();
  });
});
