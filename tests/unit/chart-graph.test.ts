import { describe, expect, it } from 'vitest';
import { and, not, or, setup } from 'xstate';
import { chartGraph } from '../../machines/chart-graph.ts';

const machine = setup({
  guards: { retriesLeft: () => true },
  actions: { recordFailure: () => {} },
  delays: { tick: 10 },
}).createMachine({
  id: 'demo',
  initial: 'running',
  states: {
    running: {
      initial: 'executing',
      on: { CANCEL: 'cancelled' },
      states: {
        executing: {
          on: {
            FAILED: [{ guard: 'retriesLeft', target: 'retrying', actions: 'recordFailure' }, { target: '#demo.cancelled' }],
          },
        },
        retrying: { after: { tick: 'executing' } },
        deciding: { always: [{ guard: 'retriesLeft', target: 'executing' }, { target: 'retrying' }] },
      },
    },
    cancelled: { type: 'final' },
  },
});

describe('chartGraph', () => {
  const graph = chartGraph(machine);

  it('lists every state node with its parent, type and initial child, parents first', () => {
    expect(graph.initial).toBe('running');
    expect(graph.nodes).toEqual([
      { id: 'running', key: 'running', parent: null, type: 'compound', initial: 'running.executing' },
      { id: 'running.executing', key: 'executing', parent: 'running', type: 'atomic', initial: null },
      { id: 'running.retrying', key: 'retrying', parent: 'running', type: 'atomic', initial: null },
      { id: 'running.deciding', key: 'deciding', parent: 'running', type: 'atomic', initial: null },
      { id: 'cancelled', key: 'cancelled', parent: null, type: 'final', initial: null },
    ]);
  });

  it('names each guarded alternative, delayed and eventless transition as the machine declares it', () => {
    const edges = graph.edges.map(({ source, target, event, guard, actions }) => ({ source, target, event, guard, actions }));
    expect(edges).toEqual([
      { source: 'running', target: 'cancelled', event: 'CANCEL', guard: null, actions: [] },
      { source: 'running.executing', target: 'running.retrying', event: 'FAILED', guard: 'retriesLeft', actions: ['recordFailure'] },
      { source: 'running.executing', target: 'cancelled', event: 'FAILED', guard: null, actions: [] },
      { source: 'running.retrying', target: 'running.executing', event: 'after tick', guard: null, actions: [] },
      { source: 'running.deciding', target: 'running.executing', event: 'always', guard: 'retriesLeft', actions: [] },
      { source: 'running.deciding', target: 'running.retrying', event: 'always', guard: null, actions: [] },
    ]);
  });
});

describe('chartGraph of composite guards and done transitions', () => {
  const machine = setup({
    guards: { a: () => true, b: () => true, c: () => false },
  }).createMachine({
    id: 'mix',
    initial: 'work',
    states: {
      work: {
        initial: 'step',
        states: {
          step: { on: { GO: [{ guard: and(['a', 'b']), target: 'end' }, { guard: or(['a', not('c')]), target: 'end' }, { guard: and(['a', or(['b', 'c'])]), target: 'end' }] } },
          end: { type: 'final' },
        },
        onDone: 'over',
      },
      over: { type: 'final' },
    },
  });

  it('reads and, or and not as expressions of the guard names, and a compound node done as onDone', () => {
    const edges = chartGraph(machine).edges.map(({ source, target, event, guard }) => ({ source, target, event, guard }));
    expect(edges).toEqual([
      { source: 'work', target: 'over', event: 'onDone', guard: null },
      { source: 'work.step', target: 'work.end', event: 'GO', guard: 'a && b' },
      { source: 'work.step', target: 'work.end', event: 'GO', guard: 'a || !c' },
      { source: 'work.step', target: 'work.end', event: 'GO', guard: 'a && (b || c)' },
    ]);
  });
});
