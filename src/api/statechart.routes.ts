/**
 * `GET /api/v1/statechart`: the graph of the sequence machine the server runs (its state nodes and
 * its transitions with event, guard and action names), read off the machine by `chartGraph`. The
 * operator console lays it out and lights each run's state on it, so the drawing is always the
 * machine in force, never a copy made by hand.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { chartGraph } from '../../machines/chart-graph.ts';
import { sequenceMachine } from '../../machines/sequence.machine.ts';

const ChartNodeSchema = z.object({
  id: z.string().describe('Dotted path from the root, as the progress object\'s `state` spells it (running.executing)'),
  key: z.string(),
  parent: z.string().nullable(),
  type: z.enum(['atomic', 'compound', 'parallel', 'final', 'history']),
  initial: z.string().nullable().describe('Initial child of a compound node'),
});

const ChartEdgeSchema = z.object({
  id: z.string(),
  source: z.string(),
  target: z.string().nullable().describe('null for a transition that only runs actions'),
  event: z.string().describe('Event type; `always` for an eventless transition, `after <delay>` for a delayed one, `onDone` when a compound state reached its final child'),
  guard: z.string().nullable(),
  actions: z.array(z.string()),
});

/** Answer of `GET /statechart`. */
export const StatechartResponseSchema = z.object({
  success: z.literal(true),
  id: z.string(),
  initial: z.string().nullable(),
  nodes: z.array(ChartNodeSchema).describe('Parents before children'),
  edges: z.array(ChartEdgeSchema).describe('Guarded alternatives of one event are one edge each, in the order they are tried'),
  rootEdges: z.array(ChartEdgeSchema).describe('Transitions of the machine itself (source: its id), taken in every state that has none of its own for the event'),
});

/** Registers `GET /statechart` (under the API prefix). */
export async function statechartRoutes(app: FastifyInstance): Promise<void> {
  // The machine does not change while the server runs: read it once.
  const graph = { success: true as const, ...chartGraph(sequenceMachine) };
  app.withTypeProvider<ZodTypeProvider>().get('/statechart', {
    schema: {
      tags: ['sequences'],
      summary: 'The graph of the sequence statechart the server runs (states, transitions, guards, actions)',
      response: { 200: StatechartResponseSchema },
    },
  }, async () => graph);
}
