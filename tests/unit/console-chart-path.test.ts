/**
 * Where the console marks a run on the statechart: its current state with its parents, the states
 * its `sequence_state` events passed through, and the transitions they took, matched by event
 * name (XState's `xstate.after.<delay>.<id>` for a chart's `after <delay>`) and by source and
 * target, a parent's transition counting for a child's state.
 */
import { describe, expect, it } from 'vitest';
import { setup } from 'xstate';
import { chartGraph } from '../../machines/chart-graph.ts';
import { chartPath } from '../../console/src/chart/chart-path.ts';
import type { StreamEvent } from '../../console/src/api/types.ts';

const machine = setup({ guards: { more: () => true }, delays: { tick: 10 } }).createMachine({
  id: 'demo',
  initial: 'idle',
  states: {
    idle: { on: { START: 'running' } },
    running: {
      initial: 'executing',
      on: { CANCEL: 'cancelled' },
      states: {
        executing: { on: { DONE: [{ guard: 'more', target: 'waiting' }, { target: '#demo.completed' }] } },
        waiting: { after: { tick: 'executing' } },
      },
    },
    completed: { type: 'final' },
    cancelled: { type: 'final' },
  },
});
const graph = chartGraph(machine);

let seq = 0;
const moved = (previous: string, state: string, event: string): StreamEvent => ({
  type: 'sequence_state',
  seq: ++seq,
  timestamp: seq,
  data: { sequence_id: 's', run_id: 'r', previous_state: previous, state, event },
});

describe('chartPath', () => {
  it('lights the current state with its parents and marks where the run has been', () => {
    const events = [moved('idle', 'running.executing', 'START'), moved('running.executing', 'running.waiting', 'DONE')];
    const path = chartPath(graph, 'running.waiting', events);
    expect([...path.current].sort()).toEqual(['running', 'running.waiting']);
    expect([...path.visited].sort()).toEqual(['idle', 'running', 'running.executing', 'running.waiting']);
    expect([...path.taken].sort()).toEqual(['idle:START:0', 'running.executing:DONE:0']);
  });

  it("takes a delayed event for the chart's after edge and a parent's transition for a child's state", () => {
    const events = [
      moved('idle', 'running.executing', 'START'),
      moved('running.executing', 'running.waiting', 'DONE'),
      moved('running.waiting', 'running.executing', 'xstate.after.tick.demo.running.waiting'),
      moved('running.executing', 'cancelled', 'CANCEL'),
    ];
    const path = chartPath(graph, 'cancelled', events);
    expect(path.taken).toContain('running.waiting:after tick:0');
    expect(path.taken).toContain('running:CANCEL:0');
    expect([...path.current]).toEqual(['cancelled']);
    expect(path.visited.has('completed')).toBe(false);
  });

  it('marks only the current state without events or a graph', () => {
    const path = chartPath(null, 'running.executing', []);
    expect([...path.current]).toEqual(['running', 'running.executing']);
    expect(path.taken.size).toBe(0);
  });
});
