/**
 * The baseline of the engine benchmark: the same five-step workload run by the simplest thing
 * that could work, one plain async function per run (`await send(ON); await sleep(1000); ...`),
 * with no statechart, no events, no pause, cancel or durability. The engine's overhead is
 * measured against it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ActuatorCommand, ActuatorDriver } from '../src/drivers/actuator-driver.ts';

/** One step of the benchmark workload: a command to send, or a wait. */
export type WorkloadStep = { kind: 'command'; command: ActuatorCommand['command'] } | { kind: 'wait'; ms: number };

/** Where a workload reports when each step of each run starts and ends (performance.now() ms). */
export interface StepRecorder {
  started(run: number, step: number, at: number): void;
  ended(run: number, step: number, at: number): void;
}

/** Runs the steps of one run in order, as a plain async function would. */
export async function baselineRun(
  run: number,
  steps: readonly WorkloadStep[],
  driver: ActuatorDriver,
  target: { esp_id: string; gpio: number },
  record: StepRecorder,
): Promise<void> {
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i] as WorkloadStep;
    record.started(run, i, performance.now());
    if (step.kind === 'wait') {
      await sleep(step.ms);
    } else {
      const answer = await driver.send(
        { ...target, command: step.command, value: step.command === 'OFF' ? 0 : 1, duration_seconds: 0, correlation_id: `${run}-${i}` },
        // A real executor needs a way to abort the command; give the baseline the same.
        { signal: new AbortController().signal, timeoutMs: 30_000 },
      );
      if (!answer.success) throw new Error(answer.message);
    }
    record.ended(run, i, performance.now());
  }
}
