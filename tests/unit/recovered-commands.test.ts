/**
 * What a run recovered after a restart is taken to have commanded (its safe state turns those
 * OFF): a skipped step commanded nothing; a repeat in flight may have switched on what its
 * iteration's steps switch on.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { sequenceMachine } from '../../machines/sequence.machine.ts';
import type { SequenceContext } from '../../machines/sequence.types.ts';
import { recoveredCommands } from '../../src/safety/recovered-commands.ts';
import { plan, planStep } from '../helpers/definition.builder.ts';

const T0 = 1_000_000;
const on = (gpio: number) => ({ type: 'actuator_command', esp_id: 'ESP_1', gpio, command: 'ON' });

function contextAfter(steps: Parameters<typeof plan>[0], drive: (send: (e: never) => void, attempt: () => number) => void): SequenceContext {
  const actor = createActor(sequenceMachine, { input: { plan: plan(steps) } });
  actor.start();
  drive((e) => actor.send(e), () => actor.getSnapshot().context.attemptId);
  return actor.getSnapshot().context;
}

describe('recoveredCommands', () => {
  it('counts nothing for a step that was skipped', () => {
    const context = contextAfter([planStep({ action: on(5), when: { signal: 'go' } }), planStep({ action: on(6) })], (send) => {
      send({ type: 'START', now: T0 } as never);
      send({ type: 'CONDITION', now: T0, truth: 'false', until: null, message: 'signal go not received' } as never);
    });
    expect(context.results[0]).toMatchObject({ skipped: true });
    expect(recoveredCommands(context).map((c) => c.gpio)).toEqual([6]);
  });

  it('counts every ON of the iteration of a repeat in flight', () => {
    const iteration = plan([planStep({ action: on(7) }), planStep({ action: { ...on(7), command: 'OFF' } }), planStep({ action: on(8) })]);
    const context = contextAfter([planStep({ action: { type: 'repeat', plan: iteration, count: 3, until: null, maxIterations: 10 } })], (send) => {
      send({ type: 'START', now: T0 } as never);
    });
    expect(recoveredCommands(context).map((c) => `${c.gpio} ${c.command}`)).toEqual(['7 ON', '8 ON']);
  });
});
