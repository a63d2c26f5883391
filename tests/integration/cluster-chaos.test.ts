/**
 * Seeded chaos on a cluster (SPEC 14): three node processes on one PostgreSQL database (mqtt
 * driver, a real Mosquitto, the device emulator in a process of its own), 300 runs started over
 * ten rounds, and in each round one seeded node killed with `kill -9` at a seeded moment. Most come
 * back at once under the same node id (and take their runs back); every third comes back under a
 * new id, so its old runs wait for their leases to expire and another node claims them. Then:
 * every run answered 202 has finished, and no actuator was left ON.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findMosquitto } from '../helpers/mosquitto.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.ts';
import { chooser, prng } from '../helpers/prng.ts';
import { finished, isTerminal, leftOn, useMqttRig, type MqttServer } from './emulator-process.ts';
import { api } from './recovery-process.harness.ts';

const SEED = 0xc1a5_0018;
const ROUNDS = 10;
const RUNS_PER_ROUND = 30;
const ESPS = ['ESP_C1', 'ESP_C2', 'ESP_C3'];
const MOSQUITTO = findMosquitto();

type Node = MqttServer & { id: string };

describe.skipIf(MOSQUITTO === null)(`3 nodes, ${ROUNDS} seeded kill -9 (seed ${SEED.toString(16)}), mqtt driver, Mosquitto and the emulator`, () => {
  const rig = useMqttRig(MOSQUITTO as string, [...ESPS, 'ESP_PROBE']);
  let database: TestDatabase;
  let config = '';

  beforeAll(async () => {
    database = await createTestDatabase();
    // No rate limits: the test is about ownership, not throttling.
    config = join(rig.dir, 'config.json');
    writeFileSync(config, JSON.stringify({ rate_limits: { starts_per_second: 0, commands_per_second: 0, commands_per_esp_per_second: 0 } }));
  });
  afterAll(() => database?.drop());

  async function node(id: string): Promise<Node> {
    return { ...(await rig.serve(['--db', database.url, '--node-id', id, '--config', config])), id };
  }

  it('loses no run that was answered 202, and leaves no actuator ON', { timeout: 120_000 }, async () => {
    const { int, pick } = chooser(prng(SEED));
    const nodes: Node[] = [await node('chaos-0'), await node('chaos-1'), await node('chaos-2')];
    const acknowledged = new Set<string>();
    let sequence = 0;
    const watering = () => {
      const target = { type: 'actuator_command', esp_id: pick(ESPS), gpio: int(10) };
      return {
        sequence_id: `chaos-${++sequence}`,
        mode: 'parallel',
        steps: [
          { name: 'On', action: { ...target, command: 'ON' } },
          { name: 'Soak', delay_seconds: pick([0, 0.1, 0.5, 1, 2]) },
          { name: 'Off', action: { ...target, command: 'OFF' } },
        ],
      };
    };

    for (let round = 0; round < ROUNDS; round++) {
      const entry = nodes[int(3)] as Node;
      const { results } = await api<{ results: { status: number; run_id?: string }[] }>(
        entry.url,
        '/sequences/batch',
        { sequences: Array.from({ length: RUNS_PER_ROUND }, watering) },
        207,
      );
      for (const result of results) if (result.status === 202) acknowledged.add(result.run_id as string);
      const at = int(3);
      const victim = nodes[at] as Node;
      // Killed at a seeded event from here on (a command, a wait, a claimed run's step).
      const nth = victim.events.events.length + 1 + int(60);
      await Promise.race([victim.events.next((e) => victim.events.events.indexOf(e) + 1 >= nth), new Promise((resolve) => setTimeout(resolve, 3000))]);
      await victim.kill();
      nodes[at] = await node(round % 3 === 2 ? `${victim.id}-r${round}` : victim.id);
    }

    const observer = nodes[0] as Node;
    for (const runId of acknowledged) {
      const ended = await finished(observer, runId);
      expect([ended.run_id, isTerminal(ended.status)], `${runId}: ${ended.status}`).toEqual([runId, true]);
    }
    expect(acknowledged.size).toBe(ROUNDS * RUNS_PER_ROUND);

    // A last command through the same broker: every earlier answer was printed before it.
    const probe = await api<{ run_id: string }>(observer.url, '/sequences', { steps: [{ action: { type: 'actuator_command', esp_id: 'ESP_PROBE', gpio: 0, command: 'OFF' } }] });
    await observer.events.ended(probe.run_id);
    await rig.devices.printed(/^ESP_PROBE gpio 0 -> ok/m);
    expect(new Set(rig.devices.applied().filter(([, command]) => command === 'ON').map(([actuator]) => actuator)).size).toBeGreaterThan(5);
    expect(leftOn(rig.devices)).toEqual([]);
  });
});
