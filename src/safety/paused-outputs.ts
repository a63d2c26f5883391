/**
 * A pause with `outputs: "off"` (SPEC 7) through the safety system: the actuators a run holds are
 * turned OFF with their leases kept (OFF passes the latch and the policy, waits for the rate
 * limits, and is bounded by the safe-state timeout), and turned back on resume as their last
 * command left them, each command passing the latch, the policy, the lease and the rate limits as
 * any step's does.
 */
import { randomUUID } from 'node:crypto';
import type { PausedOutput } from '../../machines/sequence.types.ts';
import { Codes, SequencerError } from '../domain/errors.ts';
import type { ActuatorCommand, ActuatorDriver } from '../drivers/actuator-driver.ts';
import type { RunOutputs } from '../engine/engine-options.ts';
import { leaseKey } from './lease-table.ts';
import type { SafetySystem } from './safety-system.ts';

/** Runs `send` with an abort signal that fires after `ms` (a timer of ours, so fake clocks drive it). */
async function within<T>(ms: number, why: string, send: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new SequencerError(Codes.STEP_TIMEOUT, why)), ms);
  try {
    return await send(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

/** The outputs of paused runs, as the engine asks for them. */
export class PausedOutputs implements RunOutputs {
  readonly #safety: SafetySystem;
  readonly #driver: ActuatorDriver;
  readonly #offTimeoutMs: number;

  constructor(safety: SafetySystem, driver: ActuatorDriver, offTimeoutMs: number) {
    this.#safety = safety;
    this.#driver = driver;
    this.#offTimeoutMs = offTimeoutMs;
  }

  held(runId: string): PausedOutput[] {
    return this.#safety.leases.keysOf(runId).map((key) => {
      const split = key.lastIndexOf(':');
      const on = this.#safety.switchedOn(key);
      // A TOGGLE that left it on is restored as ON: toggling again would switch it off.
      const command = on?.command === 'PWM' ? 'PWM' : 'ON';
      return { esp_id: key.slice(0, split), gpio: Number(key.slice(split + 1)), command, value: command === 'PWM' ? (on?.value ?? 0) : 1, duration_seconds: on?.duration_seconds ?? 0 };
    });
  }

  async turnOff(runId: string, outputs: readonly PausedOutput[]): Promise<void> {
    const failed: string[] = [];
    await Promise.all(
      outputs.map(async ({ esp_id, gpio }) => {
        const key = leaseKey(esp_id, gpio);
        // Taken over by a more important run meanwhile: it is that run's now.
        if (this.#safety.leases.holderOf(key)?.runId !== runId) return;
        const command: ActuatorCommand = { esp_id, gpio, command: 'OFF', value: 0, duration_seconds: 0, correlation_id: randomUUID() };
        try {
          const answer = await within(this.#offTimeoutMs, `no answer within ${this.#offTimeoutMs / 1000} s`, async (signal) => {
            await this.#safety.rateLimit(esp_id, { signal, deadline: Date.now() + this.#offTimeoutMs });
            return this.#driver.send(command, { signal, timeoutMs: this.#offTimeoutMs });
          });
          if (!answer.success) failed.push(`${key}: ${answer.message}`);
        } catch (error) {
          failed.push(`${key}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }),
    );
    if (failed.length > 0) throw new SequencerError(Codes.SAFE_STATE_FAILED, `Pause could not confirm OFF: ${failed.join('; ')}`);
  }

  async restore(runId: string, priority: number, outputs: readonly PausedOutput[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const failures = await Promise.all(
      outputs.map(async ({ esp_id, gpio, command: name, value, duration_seconds }) => {
        const command: ActuatorCommand = { esp_id, gpio, command: name, value, duration_seconds, correlation_id: randomUUID() };
        const key = leaseKey(esp_id, gpio);
        try {
          await within(timeoutMs, `Step timed out after ${timeoutMs / 1000} s`, async (signal) => {
            const context = { rootRunId: runId, priority, signal, deadline };
            await this.#safety.beforeSend(command, context);
            const answer = await this.#driver.send(command, { signal, timeoutMs });
            if (!answer.success) throw new SequencerError(Codes.STEP_FAILED, `Device ${esp_id} refused ${name} on gpio ${gpio}: ${answer.message}`);
            this.#safety.afterSend(command, context, this.#safety.leavesOn(runId, key));
          });
          return null;
        } catch (error) {
          return error instanceof SequencerError ? error : new SequencerError(Codes.STEP_FAILED, String(error));
        }
      }),
    );
    const failure = failures.find((error) => error !== null);
    if (failure) throw new SequencerError(failure.code, `Outputs could not be restored on resume: ${failure.message}`);
  }
}
