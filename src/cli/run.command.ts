/**
 * `sequencer run <file.json> [--params JSON] [--sim-latency-ms N] [--json]`: runs one sequence (or
 * a template filled with `--params`) in this process against simulated ESP32 nodes, with no
 * database, and shows its steps as they go. Exit 0 when the run completed, 1 when it ended
 * otherwise, 2 for a file that cannot be read or a definition that is not valid, 130 after Ctrl-C
 * (the run is cancelled and its safe state runs first).
 */
import { defaultConfig } from '../config/server-config.ts';
import { SequencerError } from '../domain/errors.ts';
import type { SequenceDefinition } from '../domain/definition.schema.ts';
import type { RunStatus } from '../domain/progress.ts';
import type { EventEnvelope, SequenceEvents } from '../events/event-types.ts';
import { createServices, type Services } from '../services.ts';
import { UsageError, type Command, type CommandSpec, type ParsedArgs } from './command-line.ts';
import { checkContent, formatProblems, parseParams, readDefinition } from './definition-file.ts';
import { createProgressView, timingOf } from './progress-view.ts';
import { PARAMS_FLAG } from './validate.command.ts';

const FLAGS = {
  params: PARAMS_FLAG,
  'sim-latency-ms': { type: 'string', value: 'N', help: 'answer delay of the simulated nodes (default 20)' },
  json: { type: 'boolean', help: "print only the run's final progress object, as JSON" },
} as const;

const SPEC: CommandSpec<typeof FLAGS> = {
  name: 'run',
  operands: { names: '<file.json>', min: 1, max: 1 },
  summary: 'Run one sequence or template locally against simulated devices and show its steps.',
  flags: FLAGS,
  notes:
    'On a terminal a progress bar shows the step, its elapsed time and what is left of a wait;\n' +
    'elsewhere every step event is one line. Ctrl-C cancels the run and runs its cleanup steps first.\n' +
    'Exit codes: 0 completed, 1 ended otherwise, 2 not readable or not valid, 130 interrupted.',
};

/** `sequencer run`. */
export const command: Command<typeof FLAGS> = { spec: SPEC, run };

/** Exit codes after a signal, as shells report them. */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

async function run({ values, operands }: ParsedArgs<typeof FLAGS>): Promise<number> {
  const file = operands[0] as string;
  const latency = Number(values['sim-latency-ms'] ?? defaultConfig().simLatencyMs);
  if (!/^\d+$/.test(values['sim-latency-ms'] ?? '0') || latency > 600_000) throw new UsageError('--sim-latency-ms must be an integer 0..600000');
  const params = parseParams(values.params);
  const loaded = await readDefinition(file);
  if (!loaded.ok) {
    process.stderr.write(`sequencer run: ${loaded.message}\n`);
    return 2;
  }
  const services = await createServices({ ...defaultConfig(), db: ':memory:', driver: 'sim', simLatencyMs: latency });
  try {
    const checked = await checkContent(services, file, loaded.value, params);
    if (!checked.ok) {
      process.stderr.write(`sequencer run: ${file} is not a valid sequence:\n${formatProblems(checked.errors)}`);
      return 2;
    }
    return await runToEnd(services, checked.definition, values.json === true);
  } finally {
    await services.close();
  }
}

/** Starts the run, shows its events until its last one, and turns its end into an exit code. */
async function runToEnd(services: Services, definition: SequenceDefinition, json: boolean): Promise<number> {
  const { engine } = services;
  const view = json ? null : createProgressView({ out: process.stdout, bar: process.stdout.isTTY === true, timing: timingOf(definition) });
  const say = (text: string) => (view ? view.notice(text) : process.stderr.write(`${text}\n`));
  let runId: string | null = null;
  // Without a store the first events are published inside start(), before its run_id is known.
  const early: EventEnvelope[] = [];
  let finish: (status: RunStatus) => void = () => {};
  const ended = new Promise<RunStatus>((resolve) => (finish = resolve));
  const deliver = (event: EventEnvelope) => {
    if ((event.data as { run_id?: string }).run_id !== runId) return;
    view?.show(event);
    if (event.type === 'sequence_completed') finish((event.data as SequenceEvents['sequence_completed']).status);
  };
  const unsubscribe = engine.events.subscribe((event) => (runId === null ? early.push(event) : deliver(event)));

  let signalled: keyof typeof SIGNAL_EXIT | null = null;
  const onSignal = (signal: keyof typeof SIGNAL_EXIT) => {
    if (signalled !== null || runId === null) {
      view?.close();
      process.stderr.write('quitting without waiting for the cleanup steps\n');
      process.exit(SIGNAL_EXIT[signal]);
    }
    signalled = signal;
    say('interrupted: cancelling the run (press Ctrl-C again to quit at once)');
    engine.cancel(runId, 'Interrupted from the command line').catch(() => {
      // Already in its cleanup steps: it is making itself safe and ends on its own.
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    try {
      runId = engine.startValidated(definition).run_id;
    } catch (error) {
      process.stderr.write(`sequencer run: cannot start: ${error instanceof SequencerError ? `${error.message} (${error.code})` : String(error)}\n`);
      return 1;
    }
    for (const event of early.splice(0)) deliver(event);
    const status = await ended;
    if (json) process.stdout.write(`${JSON.stringify(await engine.get(runId), null, 2)}\n`);
    if (signalled !== null) return SIGNAL_EXIT[signalled];
    return status === 'completed' ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    unsubscribe();
    view?.close();
  }
}
