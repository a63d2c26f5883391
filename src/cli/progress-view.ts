/**
 * What `sequencer run` shows while a run goes on: a line per step result (name, ok/failed,
 * message, duration) and, on a terminal, a progress bar under those lines with the current step,
 * its elapsed time and what is left of its wait. Off a terminal (a pipe, a file, CI logs) there is
 * no bar and no escape code: every step event is a line, so a log shows a step as it starts and
 * not only when it ends.
 */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { SequenceDefinition, Step } from '../domain/definition.schema.ts';
import type { EventEnvelope, SequenceEvents } from '../events/event-types.ts';

type StepEvent = SequenceEvents['sequence_step'];
type EndEvent = SequenceEvents['sequence_completed'];

/** Renders the events of one run. */
export interface ProgressView {
  /** Shows one event of the run (events of other runs must be filtered out by the caller). */
  show(event: EventEnvelope): void;
  /** Prints a line of its own (a warning, what Ctrl-C does). */
  notice(text: string): void;
  /** Removes the bar, if any; lines already printed stay. */
  close(): void;
}

/** What a definition says about the time of one step. */
export interface StepTiming {
  /** Seconds the step waits in all: its delay (or delay action) and its delays before and after. */
  waitSeconds: number;
  /** Seconds an attempt may last (the step's timeout): the longest a wait for a condition takes. */
  timeoutSeconds: number;
}

/** Looks up the timing of a step by phase and index. */
export type TimingOf = (phase: 'steps' | 'cleanup', index: number) => StepTiming | null;

/** Options of a view. */
export interface ProgressViewOptions {
  /** Where lines go (stdout for the command). */
  out: NodeJS.WriteStream;
  /** Draw a bar (only sensible when `out` is a terminal). */
  bar: boolean;
  /** The timing of each step, for the elapsed and remaining time (default: elapsed only). */
  timing?: TimingOf;
  /** The clock (Unix ms; default Date.now). */
  now?: () => number;
}

/** How often the bar's times are redrawn. */
const TICK_MS = 200;
/** An action step's attempt timeout when the step gives none (SPEC 2). */
const DEFAULT_TIMEOUT_SECONDS = 30;

const seconds = (ms: number): string => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

/** The timing of every step of a definition, for a view. */
export function timingOf(definition: SequenceDefinition): TimingOf {
  const of = (step: Step | undefined): StepTiming | null => {
    if (!step) return null;
    const action = step.action as { type: string; seconds?: unknown } | undefined;
    const wait = action === undefined ? (step.delay_seconds ?? 0) : action.type === 'delay' ? Number(action.seconds) : 0;
    return { waitSeconds: step.delay_before_seconds + wait + step.delay_after_seconds, timeoutSeconds: step.timeout_seconds ?? DEFAULT_TIMEOUT_SECONDS };
  };
  return (phase, index) => of((phase === 'steps' ? definition.steps : definition.cleanup_steps)[index]);
}

/** The time of the current step as the bar shows it: elapsed, and what is left of a wait. */
export function stepTime(elapsedMs: number, timing: StepTiming | null, waiting: boolean): string {
  if (waiting && timing) return `waiting ${seconds(elapsedMs)}, gives up in ${seconds(Math.max(0, timing.timeoutSeconds * 1000 - elapsedMs))}`;
  if (!timing || timing.waitSeconds === 0) return `${seconds(elapsedMs)} elapsed`;
  return `${seconds(elapsedMs)} elapsed, ${seconds(Math.max(0, timing.waitSeconds * 1000 - elapsedMs))} left`;
}

/** The position of a step as people read it: `2/5`, or `cleanup 1` (the safe-state step ends that list). */
function positionOf(data: StepEvent): string {
  return data.phase === 'steps' ? `${data.step + 1}/${data.total_steps}` : `cleanup ${data.step + 1}`;
}

/**
 * One line per step event: a start (with the wait it holds, when `timing` knows it), a retry, a
 * result, or any other status the engine reports (a wait for a condition, a skip).
 */
export function stepLine(data: StepEvent, timing: StepTiming | null = null): string {
  const where = positionOf(data);
  if (data.status === 'retrying') return `retry   ${where}  ${data.step_name}  attempt ${data.attempt} failed: ${data.message}`;
  if (data.status === 'starting') return `start   ${where}  ${data.step_name}${timing && timing.waitSeconds > 0 ? `  (waits ${timing.waitSeconds} s)` : ''}`;
  if (data.status !== 'completed' && data.status !== 'failed') return `${String(data.status).padEnd(7)} ${where}  ${data.step_name}  ${data.message}`;
  const verdict = data.status === 'completed' ? 'ok     ' : 'failed ';
  const code = data.error_code !== null ? ` (${data.error_code})` : '';
  const took = data.duration_ms !== null ? `  ${seconds(data.duration_ms)}` : '';
  return `${verdict} ${where}  ${data.step_name}  ${data.message}${code}${took}`;
}

/** The closing line of a run. */
export function endLine(data: EndEvent): string {
  const took = seconds(data.duration_seconds * 1000);
  const counts = `${data.steps_completed} ok, ${data.steps_failed} failed`;
  if (data.success) return `completed in ${took}: ${counts}`;
  const code = data.error_code !== null ? ` (${data.error_code})` : '';
  return `${data.status} after ${took}${code}: ${data.error ?? 'no reason given'}; steps ${counts}`;
}

/** A view over `out`, with a bar when asked. */
export function createProgressView({ out, bar, timing = () => null, now = Date.now }: ProgressViewOptions): ProgressView {
  const multi = bar
    ? new MultiBar(
        {
          stream: out,
          format: ' {bar} {percentage}% | {value}/{total} steps | {step} | {time}',
          hideCursor: true,
          clearOnComplete: true,
          gracefulExit: false,
          autopadding: true,
        },
        Presets.shades_classic,
      )
    : null;
  let progress: SingleBar | null = null;
  let closed = false;
  /** The step under way, for the bar's times. */
  let current: { startedAt: number; timing: StepTiming | null; waiting: boolean } | null = null;
  const ticker = multi ? setInterval(() => redrawTime(), TICK_MS) : null;
  const redrawTime = () => {
    progress?.update({ time: current ? stepTime(now() - current.startedAt, current.timing, current.waiting) : '' });
  };
  const line = (text: string) => (multi && !closed ? multi.log(`${text}\n`) : out.write(`${text}\n`));
  const close = () => {
    if (closed) return;
    closed = true;
    if (ticker) clearInterval(ticker);
    if (!multi) return;
    // stop() drops lines still waiting for the next redraw; draw once more so none is lost.
    multi.update();
    multi.stop();
  };

  return {
    show(event) {
      if (event.type === 'sequence_started') {
        const data = event.data as SequenceEvents['sequence_started'];
        line(`run ${data.run_id} of ${data.sequence_id}: ${data.total_steps} steps${data.description ? ` (${data.description})` : ''}`);
        progress = multi?.create(data.total_steps, 0, { step: 'starting', time: '' }) ?? null;
        return;
      }
      if (event.type === 'sequence_step') {
        const data = event.data as StepEvent;
        const stepTiming = timing(data.phase, data.step);
        // On a terminal the bar shows what is under way; the lines keep what happened.
        if (!multi || data.status !== 'starting') line(stepLine(data, stepTiming));
        const done = data.phase === 'steps' ? Math.round((data.progress_percent / 100) * data.total_steps) : data.total_steps;
        if (data.status === 'starting') {
          current = { startedAt: event.timestamp * 1000, timing: stepTiming, waiting: false };
          progress?.update(done, { step: `${positionOf(data)} ${data.step_name}` });
        } else if (String(data.status) === 'waiting' && current) {
          current.waiting = true;
        } else if (data.status === 'completed' || data.status === 'failed') {
          current = null;
          progress?.update(done);
        }
        redrawTime();
        return;
      }
      if (event.type === 'sequence_cancelled') {
        line(`${(event.data as SequenceEvents['sequence_cancelled']).reason}; running the cleanup steps`);
        return;
      }
      if (event.type === 'sequence_error') {
        const data = event.data as SequenceEvents['sequence_error'];
        line(`${data.message} (${data.error_code}); running the cleanup steps`);
        return;
      }
      if (event.type === 'notification') {
        const data = event.data as SequenceEvents['notification'];
        line(`notice  [${data.severity}] ${data.title ? `${data.title}: ` : ''}${data.message}`);
        return;
      }
      if (event.type === 'sequence_completed') {
        close();
        out.write(`${endLine(event.data as EndEvent)}\n`);
      }
    },
    notice(text) {
      line(text);
    },
    close,
  };
}
