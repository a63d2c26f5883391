/**
 * Seeded crash test (SPEC 11, SPEC 10): the real server process with the mqtt driver, a real
 * Mosquitto and the device emulator in processes of their own, killed with `kill -9` two dozen
 * times at seeded moments (at the first byte of a start's 202, or after a seeded number of
 * events: mid-command, mid-delay, mid-recovery), each time started again on the same database.
 * Then: every run that was answered 202 is known and has finished, and the emulator, whose state
 * outlives every server, has no actuator left ON.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Progress } from '../../src/domain/progress.ts';
import { findMosquitto } from '../helpers/mosquitto.ts';
import { chooser, prng } from '../helpers/prng.ts';
import { finished, isTerminal, leftOn, useMqttRig } from './emulator-process.ts';
import { api, requestKilledAtFirstByte, startRun } from './recovery-process.harness.ts';

const SEED = 0xc4a5_0012;
const KILLS = 24;
const NODES = ['ESP_K1', 'ESP_K2', 'ESP_K3'];
const GPIOS = [4, 5];
const MOSQUITTO = findMosquitto();

describe.skipIf(MOSQUITTO === null)(`kill -9 ${KILLS} times at seeded moments (seed ${SEED.toString(16)}), mqtt driver, Mosquitto and the emulator`, () => {
  const rig = useMqttRig(MOSQUITTO as string, [...NODES, 'ESP_PROBE']);
  const serve = () => rig.serve(['--db', join(rig.dir, 's.db')]);

  it('loses no run that was answered 202, and leaves no actuator ON', { timeout: 300_000 }, async () => {
    const { int, pick } = chooser(prng(SEED));
    const acknowledged = new Set<string>();
    let sequence = 0;
    const watering = () => {
      const target = { type: 'actuator_command', esp_id: pick(NODES), gpio: pick(GPIOS) };
      return {
        sequence_id: `crash-${++sequence}`,
        mode: 'parallel',
        steps: [
          { name: 'On', action: { ...target, command: 'ON' } },
          { name: 'Soak', delay_seconds: pick([0, 0.05, 0.2, 0.5]) },
          { name: 'Off', action: { ...target, command: 'OFF' } },
        ],
      };
    };

    for (let kill = 0; kill < KILLS; kill++) {
      const server = await serve();
      const seen = server.events.events.length;
      const runs: string[] = [];
      for (let i = int(4); i > 0; i--) runs.push(await startRun(server.url, watering()));
      for (const runId of runs) acknowledged.add(runId);
      if (int(3) === 0) {
        // Killed the moment its 202 starts to arrive.
        const answer = await requestKilledAtFirstByte(server, 'POST', '/sequences', watering()).catch(() => null);
        if (answer?.status === 202) acknowledged.add((answer.body as { run_id: string }).run_id);
      } else {
        // Killed at a seeded event from here on (a command, a wait, a recovered run's step), or
        // once this round's runs have ended if fewer events come.
        const nth = seen + 1 + int(8 * (runs.length + 1));
        await Promise.race([server.events.next((e) => server.events.events.indexOf(e) + 1 >= nth), Promise.all(runs.map((id) => server.events.ended(id)))]);
        server.killNow();
      }
      await server.kill();
    }

    const last = await serve();
    const { sequences } = await api<{ sequences: Progress[] }>(last.url, '/sequences?running_only=true&limit=500');
    for (const run of sequences) await finished(last, run.run_id);
    for (const runId of acknowledged) {
      const ended = await finished(last, runId);
      expect([ended.run_id, isTerminal(ended.status)], `${runId}: ${ended.status}`).toEqual([runId, true]);
    }
    expect(acknowledged.size).toBeGreaterThan(KILLS);

    // A last command through the same broker and node: every earlier answer was printed before it.
    const probe = await startRun(last.url, { steps: [{ action: { type: 'actuator_command', esp_id: 'ESP_PROBE', gpio: 0, command: 'OFF' } }] });
    await last.events.ended(probe);
    await rig.devices.printed(/^ESP_PROBE gpio 0 -> ok/m);
    const everOn = new Set(rig.devices.applied().filter(([, command]) => command === 'ON').map(([actuator]) => actuator));
    expect(everOn.size).toBeGreaterThan(1);
    expect(leftOn(rig.devices)).toEqual([]);
  });
});
