/**
 * What `sequencer run` shows while a run goes on: a line per step result (name, ok/failed,
 * message, duration) and, on a terminal, a progress bar under those lines. Off a terminal (a pipe,
 * a file, CI logs) it prints the same lines and nothing else, so the output has no escape codes.
 */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
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

/** Options of a view. */
export interface ProgressViewOptions {
  /** Where lines go (stdout for the command). */
  out: NodeJS.WriteStream;
  /** Draw a bar (only sensible when `out` is a terminal). */
  bar: boolean;
}

const seconds = (ms: number): string => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

/** The position of a step as people read it: `2/5`, or `cleanup 1` (the safe-state step ends that list). */
function positionOf(data: StepEvent): string {
  return data.phase === 'steps' ? `${data.step + 1}/${data.total_steps}` : `cleanup ${data.step + 1}`;
}

/** One line per step result or retry; null for events that need no line. */
export function stepLine(data: StepEvent): string | null {
  const where = positionOf(data);
  if (data.status === 'retrying') return `retry   ${where}  ${data.step_name}  attempt ${data.attempt} failed: ${data.message}`;
  if (data.status === 'starting') return null;
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
export function createProgressView({ out, bar }: ProgressViewOptions): ProgressView {
  const multi = bar
    ? new MultiBar(
        {
          stream: out,
          format: ' {bar} {percentage}% | {value}/{total} steps | {step}',
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
  const line = (text: string) => (multi && !closed ? multi.log(`${text}\n`) : out.write(`${text}\n`));
  const close = () => {
    if (closed) return;
    closed = true;
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
        progress = multi?.create(data.total_steps, 0, { step: 'starting' }) ?? null;
        return;
      }
      if (event.type === 'sequence_step') {
        const data = event.data as StepEvent;
        const text = stepLine(data);
        if (text) line(text);
        const done = data.phase === 'steps' ? Math.round((data.progress_percent / 100) * data.total_steps) : data.total_steps;
        if (data.status === 'starting') progress?.update(done, { step: `${positionOf(data)} ${data.step_name}` });
        else progress?.update(done);
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
