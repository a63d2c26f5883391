/**
 * Nothing a client was told is lost (SPEC 11): the real server process is killed (`kill -9`) the
 * moment the first byte of its answer reaches the client, and started again on the same database.
 * A start answered 202 is recovered and finishes. (That every other acknowledging answer waits for
 * its commit too is shown in-process by api-durable.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import type { Progress } from '../../src/domain/progress.ts';
import { progressOf, requestKilledAtFirstByte, type ServeProcess, type Stream, useServeOnFreshDatabase } from './recovery-process.harness.ts';

const serve = useServeOnFreshDatabase(['--sim-latency-ms', '0']);

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'timeout']);

/** The run's progress once it has ended: from the store, or after its end event on this server. */
async function finished(server: ServeProcess & { events: Stream }, runId: string): Promise<Progress> {
  const now = await progressOf(server.url, runId);
  if (TERMINAL.has(now.status)) return now;
  await server.events.ended(runId);
  return progressOf(server.url, runId);
}

const watering = {
  mode: 'parallel',
  steps: [
    { name: 'Valve ON', action: { type: 'actuator_command', esp_id: 'ESP_ACK', gpio: 4, command: 'ON' } },
    { name: 'Soak', delay_seconds: 0.2 },
    { name: 'Valve OFF', action: { type: 'actuator_command', esp_id: 'ESP_ACK', gpio: 4, command: 'OFF' } },
  ],
};

describe('kill -9 at the first byte of an answer', { timeout: 120_000 }, () => {
  it('a start answered 202 is known after the restart and finishes', async () => {
    const acknowledged: string[] = [];
    for (let attempt = 0; attempt < 2; attempt++) {
      const server = await serve();
      const answer = await requestKilledAtFirstByte(server, 'POST', '/sequences', { ...watering, sequence_id: `ack-${attempt}` });
      expect(answer.status).toBe(202);
      acknowledged.push((answer.body as { run_id: string }).run_id);
    }
    const after = await serve();
    for (const runId of acknowledged) {
      const ended = await finished(after, runId);
      expect([ended.run_id, ended.status]).toEqual([runId, expect.stringMatching(/^(completed|failed)$/)]);
    }
  });
});
