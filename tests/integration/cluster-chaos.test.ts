/**
 * Seeded chaos on a cluster (SPEC 14, issue 18): three node processes on one PostgreSQL database
 * (mqtt driver, a real Mosquitto, the device emulator in a process of its own), 1,000 runs started
 * over twenty rounds, and in each round one seeded node killed with `kill -9` at a seeded moment.
 * Most come back at once under the same node id (and take their runs back); every third comes back
 * under a new id, so its old runs wait for their leases to expire and another node claims them.
 * Then: every run answered 202 has finished, no actuator was left ON, and no run was driven by two
 * nodes at once.
 *
 * How "driven by two nodes at once" is seen: a command's payload names no run, so every run gets an
 * actuator of its own (25 emulated nodes x 40 gpios) and a command topic names its run. Every node
 * process connects with a client id of its own (a restart gets a new one), and the broker logs each
 * PUBLISH it receives with the client that sent it, in the order it received them, and each client
 * whose connection ended. A run may change hands only when its owner died: whenever a run's command
 * comes from another client than its previous command, that previous client's connection must have
 * ended earlier in the log (a killed process sends nothing after its socket is closed). This
 * catches a node claiming runs whose leases have not expired; `kill -9` leaves no zombie, so the
 * zombie guard itself is proven by the SIGSTOP test in cluster-process.test.ts.
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
const ROUNDS = 20;
const RUNS_PER_ROUND = 50;
const GPIOS = 40;
const ESPS = Array.from({ length: (ROUNDS * RUNS_PER_ROUND) / GPIOS }, (_, i) => `ESP_C${String(i).padStart(2, '0')}`);
const MOSQUITTO = findMosquitto();

type Node = MqttServer & { id: string; client: string };

/**
 * From the broker's log: the runs (actuators) commanded, how often a run's commands switched to
 * another client (`handoffs`), and every switch while the previous client was still connected.
 */
function senders(brokerLog: string): { runs: number; handoffs: number; overlaps: string[] } {
  const gone = new Set<string>();
  const lastSender = new Map<string, string>();
  const overlaps: string[] = [];
  let handoffs = 0;
  for (const line of brokerLog.split('\n')) {
    const publish = /Received PUBLISH from (\S+) \(.*'kaiser\/[^/]+\/esp\/([^/]+)\/actuator\/(\d+)\/command'/.exec(line);
    const ended = /Client (\S+) (?:closed its connection|disconnected)|Socket error on client (\S+),/.exec(line);
    if (ended) gone.add((ended[1] ?? ended[2]) as string);
    if (!publish) continue;
    const [, client, esp, gpio] = publish as unknown as [string, string, string, string];
    const actuator = `${esp}:${gpio}`;
    const previous = lastSender.get(actuator);
    if (previous !== undefined && previous !== client) {
      handoffs++;
      if (!gone.has(previous)) overlaps.push(`${actuator}: ${client} while ${previous} was connected`);
    }
    lastSender.set(actuator, client);
  }
  return { runs: lastSender.size, handoffs, overlaps };
}

describe.skipIf(MOSQUITTO === null)(`3 nodes, ${ROUNDS} seeded kill -9 (seed ${SEED.toString(16)}), mqtt driver, Mosquitto and the emulator`, () => {
  const rig = useMqttRig(MOSQUITTO as string, [...ESPS, 'ESP_PROBE'], { logMessages: true });
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database?.drop());

  let incarnation = 0;
  async function node(id: string): Promise<Node> {
    const client = `${id}.p${++incarnation}`;
    // No rate limits: the test is about ownership, not throttling.
    const config = join(rig.dir, `${client}.json`);
    const limits = { starts_per_second: 0, commands_per_second: 0, commands_per_esp_per_second: 0 };
    writeFileSync(config, JSON.stringify({ rate_limits: limits, mqtt: { client_id: client } }));
    return { ...(await rig.serve(['--db', database.url, '--node-id', id, '--config', config])), id, client };
  }

  it('loses no run that was answered 202, drives no run from two nodes at once, and leaves no actuator ON', { timeout: 240_000 }, async () => {
    const { int, pick } = chooser(prng(SEED));
    const nodes: Node[] = [await node('chaos-0'), await node('chaos-1'), await node('chaos-2')];
    const acknowledged = new Set<string>();
    let sequence = 0;
    const watering = () => {
      const run = sequence++;
      const target = { type: 'actuator_command', esp_id: ESPS[Math.floor(run / GPIOS)], gpio: run % GPIOS };
      return {
        sequence_id: `chaos-${run}`,
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
    expect(new Set(rig.devices.applied().filter(([, command]) => command === 'ON').map(([actuator]) => actuator)).size).toBe(ROUNDS * RUNS_PER_ROUND);
    expect(leftOn(rig.devices)).toEqual([]);
    // Every run's commands are in the log, some runs changed hands, and none while its owner lived.
    const { runs, handoffs, overlaps } = senders(rig.brokerLog());
    expect(runs).toBe(ROUNDS * RUNS_PER_ROUND + 1);
    expect(handoffs).toBeGreaterThan(0);
    expect(overlaps).toEqual([]);
  });
});
