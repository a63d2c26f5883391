import { describe, expect, it } from 'vitest';
import type { TestServer } from './ws-harness.ts';
import { connect } from './ws-harness.ts';
import { twoNodesPerFile } from './cluster-harness.ts';

const LIMIT = 5;

/** Records when each command reaches `node`'s simulated devices (ms, one clock for both nodes). */
function recordSends(node: TestServer, sent: number[]): void {
  const sim = node.services.sim;
  if (!sim) throw new Error('the nodes use the sim driver');
  const send = sim.send.bind(sim);
  sim.send = (command, options) => {
    sent.push(performance.now());
    return send(command, options);
  };
}

/** Starts twenty one-command runs at once, alternately on node A and node B, each its own output; resolves with when the commands went out. */
async function sendThroughBoth(a: TestServer, b: TestServer, espOf: (i: number) => string): Promise<number[]> {
  const sent: number[] = [];
  recordSends(a, sent);
  recordSends(b, sent);
  const onA = await connect(a.wsUrl());
  // No lease is in the way, only the limit.
  const runs = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      (i % 2 === 0 ? a : b).start({ steps: [{ name: 'on', timeout_seconds: 30, action: { type: 'actuator_command', esp_id: espOf(i), gpio: i, command: 'ON' } }] }),
    ),
  );
  const ended = await Promise.all(runs.map(({ run_id }) => onA.completed(run_id)));
  onA.ws.close();
  expect(ended.map((event) => (event.data as { status: string }).status)).toEqual(Array(20).fill('completed'));
  return sent;
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
  const nodes = twoNodesPerFile({ rate_limits: { starts_per_second: 0, commands_per_second: 0, commands_per_esp_per_second: LIMIT } });

  it('lets commands to one ESP from both nodes at once through at the limit of both together', async () => {
    const sent = await sendThroughBoth(nodes.a, nodes.b, () => 'ESP_SHARED');

    expect(sent).toHaveLength(20);
    // A burst of 5, then 5 a second: at most 10 in any second, whichever node sent them.
    expect(busiestSecond(sent)).toBeLessThanOrEqual(2 * LIMIT);
  });
});

describe('the total command rate limit across nodes', () => {
  const nodes = twoNodesPerFile({ rate_limits: { starts_per_second: 0, commands_per_second: LIMIT, commands_per_esp_per_second: 0 } });

  it('lets commands to two ESPs from both nodes at once through at the total limit of both together', async () => {
    const sent = await sendThroughBoth(nodes.a, nodes.b, (i) => (i < 10 ? 'ESP_ONE' : 'ESP_TWO'));

    expect(sent).toHaveLength(20);
    expect(busiestSecond(sent)).toBeLessThanOrEqual(2 * LIMIT);
  });
});
