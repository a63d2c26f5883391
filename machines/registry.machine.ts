/**
 * The registry actor: it admits runs up to the concurrency limit, spawns one sequence actor per
 * run, learns when each ends, and has the history pruned with one timer for all.
 *
 * Spawning and stopping are effects named here (`spawnRun`, `stopRuns`) and provided by the host:
 * the host creates each run as an actor in this registry's system, under it (the inspector sees
 * the runs as its children), without XState copying a map of every child on each spawn, which
 * would make starts cost O(runs held). The host reports a run's end as RUN_ENDED or RUN_CRASHED:
 * event types that do not name the run, so no cache of XState's grows with the runs.
 */
import { assign, setup } from 'xstate';

/** The registry's context. */
export interface RegistryContext {
  maxConcurrent: number;
  /** Runs spawned and not yet ended. */
  running: number;
}

/** What the registry is created with. */
export interface RegistryInput {
  maxConcurrent: number;
}

/** Events the registry takes. */
export type RegistryEvent =
  /** Admit and spawn a run (or a restored run, with its snapshot) if below the limit. */
  | { type: 'SPAWN'; runId: string }
  /** A run's actor reached a final state. */
  | { type: 'RUN_ENDED'; runId: string }
  /** A run's actor threw (a defect in an action). */
  | { type: 'RUN_CRASHED'; runId: string; error: unknown }
  /** A run ended without reaching a final state (stopped by the host). */
  | { type: 'RUN_STOPPED'; runId: string }
  | { type: 'SHUTDOWN' };

export const registryMachine = setup({
  types: {
    context: {} as RegistryContext,
    events: {} as RegistryEvent,
    input: {} as RegistryInput,
  },
  actions: {
    /** Creates and starts the run's actor, a child of the registry. */
    spawnRun: (_: unknown, _params: { runId: string }) => {},
    /** A run was refused because the limit is reached. */
    refuseRun: (_: unknown, _params: { runId: string }) => {},
    /** A run's actor reached a final state. */
    runEnded: (_: unknown, _params: { runId: string }) => {},
    /** A run's actor threw (a defect): the host fails the run with 5631. */
    runCrashed: (_: unknown, _params: { runId: string; error: unknown }) => {},
    /** Prunes the history past its retention (the store's). */
    sweep: () => {},
    /** Stops every run's actor (shutdown). */
    stopRuns: () => {},
    /** One more run takes a slot. */
    countRun: assign({ running: ({ context }) => context.running + 1 }),
    /** A run gives its slot back. */
    releaseRun: assign({ running: ({ context }) => context.running - 1 }),
  },
  guards: {
    /** A slot is free: fewer runs than `maxConcurrent`. */
    belowLimit: ({ context }) => context.running < context.maxConcurrent,
  },
  delays: {
    /** How often the history is pruned (every 300 s). */
    sweepInterval: 300_000,
  },
}).createMachine({
  id: 'registry',
  context: ({ input }) => ({ maxConcurrent: input.maxConcurrent, running: 0 }),
  initial: 'active',
  states: {
    active: {
      after: {
        sweepInterval: { target: 'active', reenter: true, actions: 'sweep' },
      },
      on: {
        SPAWN: [
          { guard: 'belowLimit', actions: ['countRun', { type: 'spawnRun', params: ({ event }) => ({ runId: event.runId }) }] },
          { actions: { type: 'refuseRun', params: ({ event }) => ({ runId: event.runId }) } },
        ],
        RUN_ENDED: { actions: ['releaseRun', { type: 'runEnded', params: ({ event }) => ({ runId: event.runId }) }] },
        RUN_CRASHED: { actions: ['releaseRun', { type: 'runCrashed', params: ({ event }) => ({ runId: event.runId, error: event.error }) }] },
        RUN_STOPPED: { actions: 'releaseRun' },
        SHUTDOWN: 'stopped',
      },
    },
    stopped: { type: 'final', entry: 'stopRuns' },
  },
});
