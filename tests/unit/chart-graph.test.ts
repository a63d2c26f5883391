import { describe, expect, it } from 'vitest';
import { setup } from 'xstate';
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
