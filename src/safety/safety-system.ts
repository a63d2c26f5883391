/**
 * The safety system of SPEC section 10 as the engine meets it: every actuator command passes the
 * emergency latch, the safety policy, the actuator leases and the rate limits before it leaves,
 * and the safe-state step turns OFF what a run that ended early still holds.
 */
import { Codes, SequencerError } from '../domain/errors.ts';
import type { ActuatorCommand, ActuatorDriver } from '../drivers/actuator-driver.ts';
import type { ActuatorSafety } from '../executors/actuator.executor.ts';
import type { ExecutionContext, Executor } from '../executors/executor.ts';
import { SAFE_STATE_ACTION } from '../engine/plan.ts';
import { EmergencyLatch, type LatchPress, type LatchState } from './emergency-latch.ts';
import { LeaseTable, leaseKey } from './lease-table.ts';
import { CommandRateLimiter } from './rate-limiter.ts';
import type { SafetyPolicy } from './safety-policy.ts';

/** Options of the safety system, resolved once. */
export interface SafetySystemOptions {
  driver: ActuatorDriver;
  policy: SafetyPolicy;
  /** Commands per second in total and per ESP; 0 = no limit. */
  commandsPerSecond: number;
  commandsPerEspPerSecond: number;
  /** The emergency-stop latch as stored (with its history of presses), and where to store its changes. */
  latch?: LatchState;
  onLatchChange?: (state: LatchState) => void;
  latchHistory?: readonly LatchPress[];
  onLatchHistory?: (history: LatchPress[]) => void;
  /** Time budget of one safe-state OFF (default 10 s). */
  offTimeoutMs?: number;
}

/** An actuator command a run gave before a restart. */
export interface RecoveredCommand {
  esp_id: string;
  gpio: number;
  command: string;
  leave_on: boolean;
}

/** What turning actuators OFF achieved. */
export interface OffReport {
  off: string[];
  failed: string[];
}

export class SafetySystem implements ActuatorSafety {
  readonly leases = new LeaseTable();
  readonly latch: EmergencyLatch;
  readonly limiter: CommandRateLimiter;
  readonly #policy: SafetyPolicy;
  readonly #driver: ActuatorDriver;
  readonly #offTimeoutMs: number;
  /** Actuators a run asked to leave on (`leave_on`), by run: the safe state skips them. */
  readonly #leaveOn = new Map<string, Set<string>>();
  /**
   * Actuators whose last command a device accepted was not OFF, whichever run sent it: an
   * emergency stop turns them OFF even after their run has left memory (a completed run leaves
   * its actuators as it set them). One entry per actuator of the installation at most.
   */
  readonly #leftOn = new Set<string>();

  constructor(options: SafetySystemOptions) {
    this.#driver = options.driver;
    this.#policy = options.policy;
    this.#offTimeoutMs = options.offTimeoutMs ?? 10_000;
    this.latch = new EmergencyLatch({
      initial: options.latch,
      onChange: options.onLatchChange,
      history: options.latchHistory,
      onHistory: options.onLatchHistory,
    });
    this.limiter = new CommandRateLimiter({
      commandsPerSecond: options.commandsPerSecond,
      commandsPerEspPerSecond: options.commandsPerEspPerSecond,
    });
  }

  /** Throws 5642 while the emergency stop is active (starts are refused too). */
  assertNotStopped(what: string): void {
    const state = this.latch.state();
    if (state.active) {
      const why = state.reason === null ? '' : ` (${state.reason})`;
      throw new SequencerError(Codes.SAFETY_BLOCKED, `${what} blocked: emergency stop is active${why}`);
    }
  }

  async beforeSend(command: ActuatorCommand, context: ExecutionContext): Promise<void> {
    if (command.command !== 'OFF') this.assertNotStopped(`${command.command} to ${leaseKey(command.esp_id, command.gpio)}`);
    const violation = this.#policy.check(command);
    if (violation) throw new SequencerError(Codes.SAFETY_BLOCKED, violation.message);
    const maxOn = this.#policy.maxOnSeconds(command.esp_id, command.gpio);
    // The device switches itself off after the longest allowed ON time, even if this server dies.
    if (maxOn !== null && command.command !== 'OFF' && command.duration_seconds === 0) command.duration_seconds = maxOn;
    const key = leaseKey(command.esp_id, command.gpio);
    const heldBefore = this.leases.holderOf(key)?.runId === context.rootRunId;
    const lease = this.leases.acquire(key, { runId: context.rootRunId, priority: context.priority });
    if (!lease.ok) {
      const why = lease.reason === 'taken_over' ? 'was taken over by' : 'is held by';
      throw new SequencerError(
        Codes.ACTUATOR_LOCKED,
        `Actuator ${key} ${why} run ${lease.holder.runId} (priority ${lease.holder.priority})`,
      );
    }
    try {
      await this.limiter.acquire(command.esp_id, { signal: context.signal, deadline: context.deadline });
    } catch (error) {
      // Nothing was sent: a lease granted for this command alone must not block other runs, nor
      // make this run's safe state switch off an actuator it never touched.
      if (!heldBefore && !lease.previous) this.leases.release(key, context.rootRunId);
      throw error;
    }
  }

  afterSend(command: ActuatorCommand, context: ExecutionContext, leaveOn: boolean): void {
    this.#applied(context.rootRunId, leaseKey(command.esp_id, command.gpio), command.command, leaveOn);
  }

  /** What a command the device accepted means: OFF frees the actuator; otherwise the step that last switched it decides whether the safe state leaves it on. */
  #applied(runId: string, key: string, command: string, leaveOn: boolean): void {
    if (command === 'OFF') this.leases.release(key, runId);
    if (command === 'OFF') this.#leftOn.delete(key);
    else this.#leftOn.add(key);
    if (command !== 'OFF' && leaveOn) {
      const keys = this.#leaveOn.get(runId) ?? new Set<string>();
      keys.add(key);
      this.#leaveOn.set(runId, keys);
    } else {
      this.#leaveOn.get(runId)?.delete(key);
    }
  }

  /** The executor of the safe-state step: OFF for every actuator the run still holds (but `leave_on`). */
  safeStateExecutor(): Executor {
    return {
      type: SAFE_STATE_ACTION,
      internal: true,
      external: this.#driver.kind !== 'sim',
      schema: undefined as never,
      execute: (_action, context) => this.makeSafe(context.rootRunId),
    };
  }

  /**
   * Turns OFF every actuator a run still holds (but `leave_on` ones) and releases them: the safe
   * state of a run that ended early, or of one whose actor crashed. Resolves with what was done;
   * rejects with 5614 naming the actuators that could not be turned off.
   */
  async makeSafe(runId: string): Promise<string> {
    const leaveOn = this.#leaveOn.get(runId) ?? new Set<string>();
    const keys = this.leases.releaseAll(runId).filter((key) => !leaveOn.has(key));
    this.#leaveOn.delete(runId);
    if (keys.length === 0) return 'No actuator held';
    const report = await this.turnOff(keys);
    if (report.failed.length > 0) {
      const done = report.off.length > 0 ? `Turned off ${report.off.join(', ')}; could` : 'Could';
      throw new SequencerError(Codes.STEP_FAILED, `${done} not turn off ${report.failed.join('; ')}`);
    }
    return `Turned off ${report.off.join(', ')}`;
  }

  /** A run ended: whatever it holds is released (a completed run leaves its actuators as it set them). */
  runEnded(runId: string): void {
    this.leases.releaseAll(runId);
    this.#leaveOn.delete(runId);
  }

  /**
   * Rebuilds a recovered run's leases from what it commanded before the restart: the actuator
   * commands of its successful steps, in order, plus the one that was in flight (it may have
   * reached the device), so its safe state can still turn them OFF.
   */
  restore(runId: string, priority: number, commands: readonly RecoveredCommand[]): void {
    for (const { esp_id, gpio, command, leave_on } of commands) {
      const key = leaseKey(esp_id, gpio);
      if (command !== 'OFF') this.leases.acquire(key, { runId, priority });
      this.#applied(runId, key, command, leave_on);
    }
  }

  /** A run left memory: forget that it ever touched anything. */
  runDropped(runId: string): void {
    this.leases.forget(runId);
  }

  /**
   * Sends OFF to each actuator key (`esp:gpio`) at once, past the rate limits and the latch: making
   * things safe must not wait behind the commands that made them unsafe.
   */
  async turnOff(keys: Iterable<string>): Promise<OffReport> {
    const report: OffReport = { off: [], failed: [] };
    await Promise.all(
      [...keys].map(async (key) => {
        const split = key.lastIndexOf(':');
        const command: ActuatorCommand = {
          esp_id: key.slice(0, split),
          gpio: Number(key.slice(split + 1)),
          command: 'OFF',
          value: 0,
          duration_seconds: 0,
          correlation_id: crypto.randomUUID(),
        };
        try {
          const answer = await this.#driver.send(command, { signal: AbortSignal.timeout(this.#offTimeoutMs), timeoutMs: this.#offTimeoutMs });
          if (answer.success) {
            report.off.push(key);
            this.#leftOn.delete(key);
          } else {
            report.failed.push(`${key}: ${answer.message}`);
          }
        } catch (error) {
          report.failed.push(`${key}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }),
    );
    return report;
  }

  /**
   * What an emergency stop turns OFF: every actuator a run still in memory has held, and every
   * actuator last left on by any run since the server started.
   */
  touched(): Set<string> {
    const keys = this.leases.allTouched();
    for (const key of this.#leftOn) keys.add(key);
    return keys;
  }

  /** Stops the rate limiter's waiters. Idempotent. */
  close(): void {
    this.limiter.close();
  }
}
