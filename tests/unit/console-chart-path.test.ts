/**
 * Where the console marks a run on the statechart: its current state with its parents, the states
 * its `sequence_state` events passed through and the arrows they took. One event is one step of
 * the machine, which may cross choice states (`startingStep`, `attemptFailed`, `closingStep`) and
 * a compound state's onDone: the whole route is marked, read off the sequence machine the server
 * runs, driven as the server drives it.
 */
import { describe, expect, it } from 'vitest';
import { setup } from 'xstate';
import { chartGraph } from '../../machines/chart-graph.ts';
import { sequenceMachine, type SequenceEvent } from '../../machines/sequence.machine.ts';
import { stateString } from '../../src/engine/run.ts';
import { chartPath } from '../../console/src/chart/chart-path.ts';
import type { StreamEvent } from '../../console/src/api/types.ts';
import { plan, planStep } from '../helpers/definition.builder.ts';
import { machineHarness } from '../helpers/machine.harness.ts';

const T0 = 1_000_000;
const graph = chartGraph(sequenceMachine);

/** Drives the machine and records a `sequence_state` event per step, as the server's RunHost does. */
function recorded(...steps: Parameters<typeof plan>) {
  const h = machineHarness(plan(...steps));
  const events: StreamEvent[] = [];
  let previous = h.state();
  let cause = '';
  h.actor.subscribe((snapshot) => {
    const state = stateString(snapshot.value);
    const data = { sequence_id: 's', run_id: 'r', previous_state: previous, state, event: cause };
    events.push({ type: 'sequence_state', seq: events.length + 1, timestamp: T0 / 1000, data });
    previous = state;
  });
  const send = (event: SequenceEvent) => {
    cause = event.type;
    h.send(event);
  };
  const answer = (type: 'STEP_DONE' | 'STEP_FAILED', now: number) =>
    send({ type, attemptId: h.lastAttempt().attemptId, now, message: 'm', ...(type === 'STEP_FAILED' ? { code: 5614 } : {}) } as SequenceEvent);
  return { h, events, send, answer };
}

describe('chartPath on the sequence machine', () => {
  it('marks the choice states a step boundary passes through, and only the arrows taken', () => {
    const run = recorded([planStep({ name: 'A', afterMs: 1000 }), planStep({ name: 'B', onFailure: 'continue' }), planStep({ name: 'C' })]);
    run.send({ type: 'START', now: T0 });
    run.answer('STEP_DONE', T0 + 10);
    expect(run.h.state()).toBe('running.afterDelay');
    // WAKE: afterDelay → startingStep → enteringStep → executing (step B), one event for three arrows.
    run.send({ type: 'WAKE', now: T0 + 1010 });
    // B fails for good and the run goes on: executing → attemptFailed → startingStep → enteringStep → executing (C).
    run.answer('STEP_FAILED', T0 + 1020);
    expect(run.h.state()).toBe('running.executing');
    const path = chartPath(graph, run.h.state(), run.events);
    expect([...path.taken].sort()).toEqual([
      'idle->running',
      'running.afterDelay->running.startingStep',
      'running.attemptFailed->running.startingStep',
      'running.enteringStep->running.executing',
      'running.executing->running.afterDelay',
      'running.executing->running.attemptFailed',
      'running.startingStep->running.enteringStep',
    ]);
    expect(path.visited).toContain('running.startingStep');
    expect(path.visited).toContain('running.attemptFailed');
    expect(path.visited.has('running.retrying')).toBe(false);
    expect([...path.current]).toEqual(['running', 'running.executing']);
  });

  it('marks a success that begins the next step on its own arrow, not through startingStep', () => {
    const run = recorded([planStep({ name: 'Open' }), planStep({ name: 'Soak', action: null, waitMs: 1000 }), planStep({ name: 'Close' })]);
    run.send({ type: 'START', now: T0 });
    run.answer('STEP_DONE', T0 + 10);
    run.send({ type: 'WAKE', now: T0 + 1010 });
    expect(run.h.state()).toBe('running.executing');
    expect([...chartPath(graph, run.h.state(), run.events).taken].sort()).toEqual([
      'idle->running',
      'running.delaying->running.executing',
      'running.enteringStep->running.executing',
      'running.executing->running.delaying',
      'running.startingStep->running.enteringStep',
    ]);
  });

  it("follows a parent's CANCEL into cleanup, through its choice states and its onDone to the final state", () => {
    const run = recorded([planStep({ name: 'A' })]);
    run.send({ type: 'START', now: T0 });
    run.send({ type: 'CANCEL', now: T0 + 5, reason: 'operator' });
    expect(run.h.state()).toBe('cancelled');
    const path = chartPath(graph, 'cancelled', run.events);
    expect(path.taken).toContain('running->cleanup');
    expect(path.taken).toContain('cleanup.closingStep->cleanup.startingStep');
    expect(path.taken).toContain('cleanup.startingStep->cleanup.done');
    expect(path.taken).toContain('cleanup->cancelled');
    expect(path.taken.has('cleanup->failed')).toBe(false);
    expect(path.visited).toContain('cleanup.closingStep');
    expect(path.visited).toContain('cleanup.done');
    expect([...path.current]).toEqual(['cancelled']);
  });

  it('marks the way back from a pause through the history state', () => {
    const run = recorded([planStep({ name: 'A' })]);
    run.send({ type: 'START', now: T0 });
    run.send({ type: 'PAUSE', now: T0 + 1 });
    run.send({ type: 'RESUME', now: T0 + 2 });
    expect(run.h.state()).toBe('running.executing');
    const path = chartPath(graph, run.h.state(), run.events);
    expect(path.taken).toContain('running->paused.held');
    expect(path.taken).toContain('paused.resuming->running.history');
  });

  it('marks a pause with the outputs off, the restore at resume and the choice back into running', () => {
    const run = recorded([planStep({ name: 'A' })]);
    run.send({ type: 'START', now: T0 });
    const held = [{ esp_id: 'ESP_1', gpio: 5, command: 'ON' as const, value: 1, duration_seconds: 0 }];
    run.send({ type: 'PAUSE', now: T0 + 1, outputs: 'off', held });
    run.send({ type: 'RESUME', now: T0 + 2 });
    expect(run.h.state()).toBe('paused.restoring');
    run.send({ type: 'OUTPUTS_RESTORED', now: T0 + 3 });
    expect(run.h.state()).toBe('running.executing');
    const path = chartPath(graph, run.h.state(), run.events);
    for (const arrow of ['running->paused.off', 'paused.off->paused.restoring', 'paused.restoring->paused.resuming', 'paused.resuming->running.history']) {
      expect(path.taken, arrow).toContain(arrow);
    }
    expect(path.taken.has('running->paused.held')).toBe(false);
    expect(path.visited).toContain('paused.resuming');
  });
});

describe('chartPath', () => {
  const demo = chartGraph(
    setup({ guards: { more: () => true } }).createMachine({
      id: 'demo',
      initial: 'idle',
      states: {
        idle: { on: { GO: 'pick' } },
        // Two guarded transitions between the same two states: one arrow either way.
        pick: { always: [{ guard: 'more', target: 'done' }, { target: 'done' }] },
        done: { type: 'final' },
      },
    }),
  );
  const moved = (previous_state: string, state: string, event: string): StreamEvent => ({
    type: 'sequence_state',
    seq: 1,
    timestamp: 1,
    data: { previous_state, state, event },
  });

  it('marks an arrow whose guard the events cannot tell', () => {
    const path = chartPath(demo, 'done', [moved('idle', 'done', 'GO')]);
    expect([...path.taken].sort()).toEqual(['idle->pick', 'pick->done']);
    expect(path.visited).toContain('pick');
  });

  it('marks nothing it cannot place: an unknown event, or no graph', () => {
    expect(chartPath(demo, 'done', [moved('idle', 'done', 'OTHER')]).taken.size).toBe(0);
    const path = chartPath(null, 'running.executing', []);
    expect([...path.current]).toEqual(['running', 'running.executing']);
    expect(path.taken.size).toBe(0);
  });
});
