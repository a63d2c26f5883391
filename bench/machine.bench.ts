/**
 * What XState itself costs per run: 10,000 actors alive at once, each sent the six events of the
 * engine benchmark's run (START, STEP_DONE, WAKE, STEP_DONE, WAKE, STEP_DONE) in rounds over all
 * actors, as the engine's runs interleave. Measured for the sequence machine (with no-op effects)
 * and for a minimal machine of the same shape: the same states, one `assign` and one action per
 * transition, no step logic. The minimal one is the floor any engine built on XState actors pays.
 * `npx tsx bench/machine.bench.ts [--runs N]`.
 */
import { pathToFileURL } from 'node:url';
import { createActor, type AnyActorLogic, type AnyActorRef } from 'xstate';
import { sequenceMachine, type PlanStep, type SequencePlan } from '../machines/sequence.machine.ts';
import { minimalMachine } from './floor-run.ts';

/** CPU per run (all threads, µs) of each machine. */
export interface MachineBenchResult {
  runs: number;
  sequenceMachineUs: number;
  minimalMachineUs: number;
}

const step = (over: Partial<PlanStep>): PlanStep => ({
  name: 'Step',
  action: { type: 'actuator_command' },
  waitMs: 0,
  beforeMs: 0,
  afterMs: 0,
  timeoutMs: 30_000,
  retries: 0,
  retryDelayMs: 0,
  backoff: false,
  onFailure: 'abort',
  ...over,
});

const plan = (): SequencePlan => ({
  steps: [step({}), step({ action: null, waitMs: 1000 }), step({}), step({ action: null, waitMs: 1000 }), step({})],
  cleanup: [],
  maxDurationMs: 3_600_000,
});

// Its effects are no-ops until a host provides them.
const sequence = sequenceMachine;

/** CPU µs per run for `runs` actors of `logic` alive at once. */
function measure(name: string, logic: AnyActorLogic, runs: number, input: () => unknown): number {
  const cpu = process.cpuUsage();
  const actors: AnyActorRef[] = [];
  for (let i = 0; i < runs; i++) {
    const actor = createActor(logic, { id: `run-${i}`, input: input() });
    actor.subscribe(() => {});
    actor.start();
    actors.push(actor);
  }
  let now = 0;
  const all = (event: (actor: AnyActorRef) => object) => {
    for (const actor of actors) actor.send(event(actor));
  };
  const done = (actor: AnyActorRef) => ({ type: 'STEP_DONE', attemptId: (actor.getSnapshot().context as { attemptId?: number }).attemptId, now: ++now, message: 'ok' });
  all(() => ({ type: 'START', now }));
  all(done);
  all(() => ({ type: 'WAKE', now: (now += 1000) }));
  all(done);
  all(() => ({ type: 'WAKE', now: (now += 1000) }));
  all(done);
  const used = process.cpuUsage(cpu);
  for (const actor of actors) if (actor.getSnapshot().status !== 'done') throw new Error(`${name}: a run did not complete`);
  return (used.user + used.system) / runs;
}

/** Each machine after a warm-up round; the better of three rounds. */
export function runMachineBench(runs = 10_000): MachineBenchResult {
  const best = (name: string, logic: AnyActorLogic, input: () => unknown) => {
    measure(name, logic, Math.min(2000, runs), input);
    return Math.min(...[0, 1, 2].map(() => measure(name, logic, runs, input)));
  };
  return {
    runs,
    sequenceMachineUs: best('sequence', sequence, () => ({ plan: plan() })),
    // Kinds of the five steps: command, wait, command, wait, command. Run 0 is not in flight: no effects.
    minimalMachineUs: best('minimal', minimalMachine, () => ({ step: 0, kinds: 'cwcwc', run: 0 })),
  };
}

/** The result as a Markdown table. */
export function formatMachineBench(r: MachineBenchResult): string {
  return [
    `runs alive at once: ${r.runs}, 6 events each`,
    '',
    '| machine | CPU per run (actor creation and 6 events) |',
    '|---|---:|',
    `| sequence machine (no-op effects) | ${r.sequenceMachineUs.toFixed(0)} µs |`,
    `| minimal machine of the same shape | ${r.minimalMachineUs.toFixed(0)} µs |`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const at = process.argv.indexOf('--runs');
  const runs = at >= 0 ? Number(process.argv[at + 1]) : undefined;
  console.log(formatMachineBench(runMachineBench(runs && runs > 0 ? runs : undefined)));
}
