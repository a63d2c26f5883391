import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, createMachine, type AnyActorRef, type InspectionEvent } from 'xstate';
import { registryMachine } from '../../machines/registry.machine.ts';
import { runParent } from '../../src/engine/run-parent.ts';

/** A run stand-in: ends on FINISH, throws on BOOM. */
const child = createMachine({
  initial: 'running',
  states: {
    running: {
      on: {
        FINISH: 'done',
        BOOM: {
          actions: () => {
            throw new Error('defect in a run');
          },
        },
      },
    },
    done: { type: 'final' },
  },
});

function registry(maxConcurrent: number, sweepInterval = 1000) {
  const calls = { spawned: [] as string[], refused: [] as string[], ended: [] as string[], crashed: [] as { runId: string; error: unknown }[], sweeps: 0, stops: 0 };
  const children = new Map<string, AnyActorRef>();
  /** Every event type the registry received. */
  const received = new Set<string>();
  let parent: ReturnType<typeof runParent> | null = null;
  const machine = registryMachine.provide({
    actions: {
      spawnRun: ({ self }, { runId }) => {
        calls.spawned.push(runId);
        // As the engine does: the run reports to the registry through a run parent, without spawnChild.
        parent ??= runParent(self, {
          ended: (id) => self.send({ type: 'RUN_ENDED', runId: id }),
          crashed: (id, error) => self.send({ type: 'RUN_CRASHED', runId: id, error }),
        });
        const actor = createActor(child, { parent: parent as never, id: runId });
        children.set(runId, actor);
        actor.start();
      },
      refuseRun: (_, { runId }) => {
        calls.refused.push(runId);
      },
      runEnded: (_, { runId }) => {
        calls.ended.push(runId);
      },
      runCrashed: (_, params) => {
        calls.crashed.push(params);
      },
      sweep: () => {
        calls.sweeps++;
      },
      stopRuns: () => {
        calls.stops++;
      },
    },
    delays: { sweepInterval },
  });
  const inspect = (event: InspectionEvent) => {
    if (event.type === '@xstate.event' && event.actorRef === actor) received.add(event.event.type);
  };
  const actor = createActor(machine, { input: { maxConcurrent }, inspect });
  actor.start();
  return { actor, calls, children, received, running: () => actor.getSnapshot().context.running };
}

describe('registry machine', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('admits runs up to the limit and refuses the rest', () => {
    const r = registry(2);
    for (const id of ['a', 'b', 'c']) r.actor.send({ type: 'SPAWN', runId: id });
    expect(r.calls.spawned).toEqual(['a', 'b']);
    expect(r.calls.refused).toEqual(['c']);
    expect(r.running()).toBe(2);
  });

  it('when a run reaches a final state it frees its slot and reports the run id', () => {
    const r = registry(1);
    r.actor.send({ type: 'SPAWN', runId: 'run-1' });
    r.children.get('run-1')?.send({ type: 'FINISH' });
    expect(r.calls.ended).toEqual(['run-1']);
    expect(r.running()).toBe(0);
    r.actor.send({ type: 'SPAWN', runId: 'run-2' });
    expect(r.calls.spawned).toEqual(['run-1', 'run-2']);
  });

  it('when a run throws it reports the crash with the error and frees the slot', () => {
    const r = registry(5);
    r.actor.send({ type: 'SPAWN', runId: 'run-1' });
    r.children.get('run-1')?.send({ type: 'BOOM' });
    expect(r.calls.crashed).toEqual([{ runId: 'run-1', error: expect.objectContaining({ message: 'defect in a run' }) }]);
    expect(r.running()).toBe(0);
    expect(r.actor.getSnapshot().status).toBe('active');
  });

  it('hears of every end by the same few event types, none naming a run (no cache of XState grows per run)', () => {
    const r = registry(100);
    for (let i = 0; i < 20; i++) {
      r.actor.send({ type: 'SPAWN', runId: `run-${i}` });
      r.children.get(`run-${i}`)?.send({ type: i % 2 === 0 ? 'FINISH' : 'BOOM' });
    }
    expect(r.calls.ended).toHaveLength(10);
    expect(r.calls.crashed).toHaveLength(10);
    expect(r.running()).toBe(0);
    expect([...r.received].sort()).toEqual(['RUN_CRASHED', 'RUN_ENDED', 'SPAWN', 'xstate.init']);
  });

  it('RUN_STOPPED frees the slot of a run the host stopped', () => {
    const r = registry(1);
    r.actor.send({ type: 'SPAWN', runId: 'run-1' });
    r.actor.send({ type: 'RUN_STOPPED', runId: 'run-1' });
    expect(r.running()).toBe(0);
  });

  it('keeps no map of its runs: its children stay empty however many it spawns', () => {
    const r = registry(1000);
    for (let i = 0; i < 200; i++) r.actor.send({ type: 'SPAWN', runId: `run-${i}` });
    expect(r.running()).toBe(200);
    expect(Object.keys(r.actor.getSnapshot().children)).toEqual([]);
  });

  it('sweeps terminal runs with one timer, once per interval', () => {
    const r = registry(10, 1000);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(999);
    expect(r.calls.sweeps).toBe(0);
    vi.advanceTimersByTime(1);
    expect(r.calls.sweeps).toBe(1);
    for (let i = 0; i < 5; i++) r.actor.send({ type: 'SPAWN', runId: `run-${i}` });
    vi.advanceTimersByTime(3000);
    expect(r.calls.sweeps).toBe(4);
    expect(vi.getTimerCount()).toBe(1);
  });

  it('on SHUTDOWN it stops the runs, stops its sweep timer and ends', () => {
    const r = registry(10, 1000);
    r.actor.send({ type: 'SPAWN', runId: 'run-1' });
    r.actor.send({ type: 'SHUTDOWN' });
    expect(r.calls.stops).toBe(1);
    expect(r.actor.getSnapshot().status).toBe('done');
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(r.calls.sweeps).toBe(0);
  });

  it('sweeps every 300 s by default', () => {
    const calls: number[] = [];
    const actor = createActor(registryMachine.provide({ actions: { sweep: () => void calls.push(Date.now()) } }), { input: { maxConcurrent: 1 } });
    actor.start();
    vi.advanceTimersByTime(299_999);
    expect(calls).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(calls).toHaveLength(1);
    actor.stop();
  });
});
