/**
 * The floor of any engine built the way DEVELOPERS.md asks: each definition validated with the
 * same zod schema, each run one XState actor of the sequence machine's shape, effects that send
 * the same commands to the same driver and arm the same timers. Nothing else: no events, no
 * host, no step timeouts, no pause or cancel, no safety, no progress. The benchmarks run it
 * beside the engine (and the HTTP floor server beside the service) to show how much of a target
 * is left once the mandated parts are paid for.
 */
import { assign, createActor, setup, type AnyActorRef } from 'xstate';
import type { ActuatorDriver } from '../src/drivers/actuator-driver.ts';
import { DEFAULT_LIMITS, definitionSchema } from '../src/domain/definition.schema.ts';
import { ActuatorActionSchema, toCommand, type ActuatorAction } from '../src/executors/actuator.executor.ts';

/** One step of a floor run: a command to an actuator, or a wait. */
type FloorStep = { kind: 'command'; action: ActuatorAction } | { kind: 'wait'; ms: number };

/** Where floor runs report (by run number) and what they command. */
export interface FloorHost {
  driver: ActuatorDriver;
  started(run: number, step: number): void;
  ended(run: number, step: number): void;
  finished(run: number, success: boolean): void;
}

/**
 * A run's context: its step, and the kind of each step as one letter ('c' command, 'w' wait) for
 * the guards. The steps themselves stay out of it, as the engine keeps its plan out of the
 * persisted snapshot: `getPersistedSnapshot` copies the whole context.
 */
interface FloorContext {
  step: number;
  kinds: string;
  run: number;
}

type FloorEvent = { type: 'START' } | { type: 'STEP_DONE' } | { type: 'WAKE' };

/** The steps and host of each floor run in flight, by run number. */
const inFlight = new Map<number, { steps: readonly FloorStep[]; host: FloorHost }>();

/** The end of a step: to the next one (a command or a wait), or to `completed` after the last. */
const toNextStep = [
  { guard: 'isLast' as const, target: '#minimal.completed', actions: ['next' as const, 'effects' as const] },
  { guard: 'nextIsWait' as const, target: '#minimal.running.delaying', actions: ['next' as const, 'effects' as const] },
  { target: '#minimal.running.executing', reenter: true, actions: ['next' as const, 'effects' as const] },
];

/**
 * The sequence machine's states on the path of a plain run (idle, running.executing,
 * running.delaying, completed) with one `assign` and one action per transition and no step logic.
 */
export const minimalMachine = setup({
  types: { context: {} as FloorContext, events: {} as FloorEvent, input: {} as FloorContext },
  actions: {
    effects: () => {},
    next: assign({ step: ({ context }) => context.step + 1 }),
  },
  guards: {
    isLast: ({ context }) => context.step + 1 === context.kinds.length,
    nextIsWait: ({ context }) => context.kinds[context.step + 1] === 'w',
  },
}).createMachine({
  id: 'minimal',
  context: ({ input }) => ({ step: input.step, kinds: input.kinds, run: input.run }),
  initial: 'idle',
  states: {
    idle: {
      on: {
        START: [
          { guard: ({ context }) => context.kinds[0] === 'w', target: '#minimal.running.delaying', actions: 'effects' },
          { target: '#minimal.running.executing', actions: 'effects' },
        ],
      },
    },
    running: {
      initial: 'executing',
      states: { executing: {}, delaying: {} },
      on: { STEP_DONE: toNextStep, WAKE: toNextStep },
    },
    completed: { type: 'final' },
  },
});

/** The minimal machine with effects that do the run's work (runs not in flight do nothing): one `provide` for all runs. */
const floorMachine = minimalMachine.provide({
  actions: {
    effects: ({ context, self }) => {
      const { run, step: index } = context;
      const entry = inFlight.get(run);
      if (!entry) return;
      const { host, steps } = entry;
      if (index > 0) host.ended(run, index - 1);
      const step = steps[index];
      if (!step) {
        inFlight.delete(run);
        return host.finished(run, true);
      }
      host.started(run, index);
      if (step.kind === 'wait') {
        setTimeout(() => self.send({ type: 'WAKE' }), step.ms);
        return;
      }
      const failed = () => {
        inFlight.delete(run);
        host.finished(run, false);
      };
      host.driver.send(toCommand(step.action), { signal: new AbortController().signal, timeoutMs: 30_000 }).then(
        (answer) => (answer.success ? self.send({ type: 'STEP_DONE' }) : failed()),
        failed,
      );
    },
  },
});

const schema = definitionSchema(DEFAULT_LIMITS);

/**
 * Validates `definition` and its actions with the engine's zod schemas and starts it as floor run
 * number `run`. Returns the number of steps, or null when the definition is not valid. `persist`,
 * when given, is called after every transition (the HTTP floor writes the snapshot to SQLite each
 * time, as SPEC 11 asks).
 */
export function startFloorRun(
  definition: unknown,
  run: number,
  host: FloorHost,
  persist?: (run: number, actor: AnyActorRef) => void,
): number | null {
  const parsed = schema.safeParse(definition);
  if (!parsed.success) return null;
  const steps: FloorStep[] = [];
  let kinds = '';
  for (const step of parsed.data.steps) {
    if (!step.action) {
      steps.push({ kind: 'wait', ms: (step.delay_seconds ?? 0) * 1000 });
      kinds += 'w';
      continue;
    }
    const action = ActuatorActionSchema.safeParse(step.action);
    if (!action.success) return null;
    steps.push({ kind: 'command', action: action.data });
    kinds += 'c';
  }
  inFlight.set(run, { steps, host });
  const actor = createActor(floorMachine, { input: { step: 0, kinds, run } });
  if (persist) actor.subscribe(() => persist(run, actor));
  actor.start();
  actor.send({ type: 'START' });
  return steps.length;
}
