import { describe, expect, it } from 'vitest';
import type { TestServer } from './ws-harness.ts';
import { connect } from './ws-harness.ts';
import { twoNodesPerFile } from './cluster-harness.ts';

const PER_ESP = 5;
const nodes = twoNodesPerFile({ rate_limits: { starts_per_second: 0, commands_per_second: 0, commands_per_esp_per_second: PER_ESP } });

/** Records when each command to `espId` reaches `node`'s simulated devices (ms, one clock for both nodes). */
function recordSends(node: TestServer, espId: string, sent: number[]): void {
  const sim = node.services.sim;
  if (!sim) throw new Error('the nodes use the sim driver');
  const send = sim.send.bind(sim);
  sim.send = (command, options) => {
    if (command.esp_id === espId) sent.push(performance.now());
    return send(command, options);
  };
}

/** The most commands within any one second. */
function busiestSecond(sent: readonly number[]): number {
  const sorted = [...sent].sort((x, y) => x - y);
  let most = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while ((sorted[j] as number) - (sorted[i] as number) > 1000) i++;
    most = Math.max(most, j - i + 1);
  }
  return most;
}

describe('the per-ESP command rate limit across nodes', () => {
  it('lets commands to one ESP from both nodes at once through at the limit of both together', async () => {
    const { a, b } = nodes;
    const sent: number[] = [];
    recordSends(a, 'ESP_SHARED', sent);
    recordSends(b, 'ESP_SHARED', sent);
    const onA = await connect(a.wsUrl());
    // Ten runs per node, each switching its own output of the ESP: no lease is in the way, only the limit.
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, gpio) =>
        (gpio % 2 === 0 ? a : b).start({ steps: [{ name: 'on', timeout_seconds: 30, action: { type: 'actuator_command', esp_id: 'ESP_SHARED', gpio, command: 'ON' } }] }),
      ),
    );

    const ended = await Promise.all(runs.map(({ run_id }) => onA.completed(run_id)));

    expect(ended.map((event) => (event.data as { status: string }).status)).toEqual(Array(20).fill('completed'));
    expect(sent).toHaveLength(20);
    // A burst of 5, then 5 a second: at most 10 in any second, whichever node sent them.
    expect(busiestSecond(sent)).toBeLessThanOrEqual(2 * PER_ESP);
    onA.ws.close();
  });
});
