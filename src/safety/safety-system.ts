/**
 * The safety system of SPEC section 10 as the engine meets it: every actuator command passes the
 * emergency latch, the safety policy, the actuator leases and the rate limits before it leaves,
 * and the safe-state step turns OFF what a run that ended early still holds.
 */
import { Codes, SequencerError } from '../domain/errors.ts';
import type { ActuatorCommand, ActuatorCommandName, ActuatorDriver } from '../drivers/actuator-driver.ts';
import type { ActuatorSafety, CommandContext } from '../executors/actuator.executor.ts';
import type { ExecutionContext, Executor } from '../executors/executor.ts';
import { SAFE_STATE_ACTION } from '../engine/plan.ts';
import { EmergencyLatch, type LatchPress, type LatchState } from './emergency-latch.ts';
import { LeaseTable, leaseKey, type LeaseHolder } from './lease-table.ts';
import { safeStateMessage, safetyAlerts, type OffReport } from './safe-state-report.ts';
import { CommandRateLimiter, type AcquireOptions } from './rate-limiter.ts';
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
  /**
   * Time budget of every OFF of the safe state and of the emergency stop (SPEC 10
   * `safety.safe_state_timeout_seconds`; default 2 s), whatever the step timeouts say.
   */
  safeStateTimeoutMs?: number;
  /** Actuators an earlier safe state could not confirm OFF, as stored, and where to store their changes. */
  unconfirmed?: readonly UnconfirmedLease[];
  onUnconfirmedChange?: (leases: UnconfirmedLease[]) => void;
  /** The leases of a cluster's other nodes (SPEC 14), checked after this node's own. Default: none. */
  shared?: SharedLeases;
  /** The command rate limit of a cluster's nodes together (SPEC 14), taken after this node's own. Default: none. */
  sharedRate?: SharedRateLimit;
}

/** A rate limit shared by the nodes of a cluster (see `cluster/cluster-rate-limit.ts`). */
export interface SharedRateLimit {
  /** Resolves once a token for `espId` is taken cluster-wide; rejects as {@link CommandRateLimiter.acquire} does. */
  acquire(espId: string, options: AcquireOptions): Promise<void>;
}

/** What {@link SharedLeases.acquire} answers: granted, or the run (and its node) in the way. */
export type SharedLeaseResult = { ok: true } | { ok: false; holder: LeaseHolder; nodeId: string };

/** Actuator leases shared by the nodes of a cluster (see `cluster/cluster-leases.ts`). */
export interface SharedLeases {
  /** Grants `key` to the run cluster-wide (free, its own, held by a less important or ended run), or names the holder. */
  acquire(key: string, holder: LeaseHolder): Promise<SharedLeaseResult>;
  /** Of `keys`, those another run holds now (taken over on another node): the run's safe state leaves them alone. */
  takenFrom(runId: string, keys: readonly string[]): Promise<Set<string>>;
  /** Releases `key` if `runId` holds it (in the background; failures are reported). */
  release(key: string, runId: string): void;
  /** Releases every key of `runId` but `keep` (in the background). */
  releaseRun(runId: string, keep: readonly string[]): void;
}

/**
 * An actuator a safe state could not confirm OFF: its lease stays with the run that held it until
 * an OFF to it succeeds (a later safe state, an emergency stop, `POST /devices/.../off`).
 */
export interface UnconfirmedLease {
  key: string;
  runId: string;
  priority: number;
}

/** How a command a device accepted left an actuator (kept when it was not OFF). */
export interface SwitchedOn {
  command: ActuatorCommandName;
  value: number;
  duration_seconds: number;
}

/** An actuator command a run gave before a restart. */
export interface RecoveredCommand extends SwitchedOn {
  esp_id: string;
  gpio: number;
  leave_on: boolean;
}


export class SafetySystem implements ActuatorSafety {
  readonly leases = new LeaseTable();
  readonly latch: EmergencyLatch;
  readonly limiter: CommandRateLimiter;
  readonly #policy: SafetyPolicy;
  readonly #driver: ActuatorDriver;
  readonly #shared: SharedLeases | undefined;
  readonly #sharedRate: SharedRateLimit | undefined;
  readonly #offTimeoutMs: number;
  /** Actuator key -> the lease its failed safe state left (see {@link UnconfirmedLease}). */
  readonly #unconfirmed = new Map<string, UnconfirmedLease>();
  readonly #onUnconfirmedChange: (leases: UnconfirmedLease[]) => void;
  /** Actuators a run asked to leave on (`leave_on`), by run: the safe state skips them. */
  readonly #leaveOn = new Map<string, Set<string>>();
  /**
   * Actuators whose last command a device accepted was not OFF, whichever run sent it: an
   * emergency stop turns them OFF even after their run has left memory (a completed run leaves
   * its actuators as it set them). One entry per actuator of the installation at most.
   */
  readonly #leftOn = new Map<string, SwitchedOn>();

  constructor(options: SafetySystemOptions) {
    this.#driver = options.driver;
    this.#shared = options.shared;
    this.#sharedRate = options.sharedRate;
    this.#policy = options.policy;
    this.#offTimeoutMs = options.safeStateTimeoutMs ?? 2_000;
    this.#onUnconfirmedChange = options.onUnconfirmedChange ?? (() => {});
    for (const lease of options.unconfirmed ?? []) {
      this.#unconfirmed.set(lease.key, lease);
      this.leases.acquire(lease.key, { runId: lease.runId, priority: lease.priority });
    }
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

  async beforeSend(command: ActuatorCommand, context: CommandContext): Promise<void> {
    const key = leaseKey(command.esp_id, command.gpio);
    if (command.command !== 'OFF') this.assertNotStopped(`${command.command} to ${key}`);
    const violation = this.#policy.check(command);
    if (violation) throw new SequencerError(Codes.SAFETY_BLOCKED, violation.message);
    const maxOn = this.#policy.maxOnSeconds(command.esp_id, command.gpio);
    // The device switches itself off after the longest allowed ON time, even if this server dies.
    if (maxOn !== null && command.command !== 'OFF' && command.duration_seconds === 0) command.duration_seconds = maxOn;
    const holder = this.leases.holderOf(key);
    // Any run's OFF may try to settle what a failed safe state left: OFF is the safe direction.
    const unconfirmed = this.#unconfirmed.get(key);
    if (command.command === 'OFF' && unconfirmed && unconfirmed.runId === holder?.runId) {
      return this.rateLimit(command.esp_id, { signal: context.signal, deadline: context.deadline });
    }
    const heldBefore = holder?.runId === context.rootRunId;
    const lease = this.leases.acquire(key, { runId: context.rootRunId, priority: context.priority });
    if (!lease.ok) {
      const why = lease.reason === 'taken_over' ? 'was taken over by' : 'is held by';
      throw new SequencerError(
        Codes.ACTUATOR_LOCKED,
        `Actuator ${key} ${why} run ${lease.holder.runId} (priority ${lease.holder.priority})`,
      );
    }
    try {
      // Awaited only in a cluster: each await is a turn of the microtask queue per command.
      if (command.command !== 'OFF' && this.#shared) await this.#acquireShared(this.#shared, key, { runId: context.rootRunId, priority: context.priority });
      await this.rateLimit(command.esp_id, { signal: context.signal, deadline: context.deadline });
    } catch (error) {
      // Nothing was sent: a lease granted for this command alone must not block other runs, nor
      // make this run's safe state switch off an actuator it never touched.
      if (!heldBefore && !lease.previous) {
        this.leases.release(key, context.rootRunId);
        this.#shared?.release(key, context.rootRunId);
      }
      throw error;
    }
  }

  /** Resolves once a command to `espId` may go: a token of this node's limits, then of the cluster's. */
  rateLimit(espId: string, options: AcquireOptions): Promise<void> {
    const local = this.limiter.acquire(espId, options);
    const shared = this.#sharedRate;
    return shared ? local.then(() => shared.acquire(espId, options)) : local;
  }

  /** Takes `key` for the run cluster-wide too; 5640 naming the run and node in the way. */
  async #acquireShared(leases: SharedLeases, key: string, holder: LeaseHolder): Promise<void> {
    const shared = await leases.acquire(key, holder);
    if (shared.ok) return;
    throw new SequencerError(Codes.ACTUATOR_LOCKED, `Actuator ${key} is held by run ${shared.holder.runId} (priority ${shared.holder.priority}) on node ${shared.nodeId}`);
  }

  afterSend(command: ActuatorCommand, context: CommandContext, leaveOn: boolean): void {
    this.#applied(context.rootRunId, leaseKey(command.esp_id, command.gpio), command, leaveOn);
  }

  /** How the last command a device accepted left `key`, when it was not OFF (a pause restores it so). */
  switchedOn(key: string): SwitchedOn | undefined {
    return this.#leftOn.get(key);
  }

  /** Whether the step that last switched `key` for `runId` said `leave_on`. */
  leavesOn(runId: string, key: string): boolean {
    return this.#leaveOn.get(runId)?.has(key) ?? false;
  }

  /** What a command the device accepted means: OFF frees the actuator; otherwise the step that last switched it decides whether the safe state leaves it on. */
  #applied(runId: string, key: string, { command, value, duration_seconds }: SwitchedOn, leaveOn: boolean): void {
    if (command === 'OFF') this.leases.release(key, runId);
    if (command === 'OFF') this.#shared?.release(key, runId);
    if (command === 'OFF') this.#confirmedOff(key);
    else this.#leftOn.set(key, { command, value, duration_seconds });
    if (command !== 'OFF' && leaveOn) {
      const keys = this.#leaveOn.get(runId) ?? new Set<string>();
      keys.add(key);
      this.#leaveOn.set(runId, keys);
    } else {
      this.#leaveOn.get(runId)?.delete(key);
    }
  }

  /**
   * The executor of the safe-state step: OFF for every actuator the run still holds (but
   * `leave_on`). An actuator not confirmed OFF fails the step with 5643 and is reported by a
   * `safety_alert` event each.
   */
  safeStateExecutor(): Executor {
    return {
      type: SAFE_STATE_ACTION,
      internal: true,
      external: this.#driver.kind !== 'sim',
      schema: undefined as never,
      execute: async (_action, context) => {
        const report = await this.makeSafe(context.rootRunId);
        for (const alert of safetyAlerts(report, { sequence_id: context.sequenceId, run_id: context.rootRunId })) context.emit('safety_alert', alert);
        return safeStateMessage(report);
      },
    };
  }

  /**
   * Turns OFF, all at once and each within the safe-state timeout, every actuator a run still
   * holds (but `leave_on` ones): the safe state of a run that ended early, or of one whose actor
   * crashed. Confirmed ones are released; the others stay leased to the run (see
   * {@link UnconfirmedLease}) so no other run assumes they are off.
   */
  async makeSafe(runId: string): Promise<OffReport> {
    const leaveOn = this.#leaveOn.get(runId) ?? new Set<string>();
    this.#leaveOn.delete(runId);
    const held = this.leases.keysOf(runId).filter((key) => !leaveOn.has(key));
    // An actuator a more important run on another node took over is that run's to switch now.
    const taken = this.#shared ? await this.#shared.takenFrom(runId, held).catch(() => new Set<string>()) : new Set<string>();
    const keys = held.filter((key) => !taken.has(key));
    const priority = keys.length > 0 ? (this.leases.holderOf(keys[0] as string)?.priority ?? 0) : 0;
    const report = keys.length === 0 ? { off: [], failed: [] } : await this.turnOff(keys);
    for (const { key } of report.failed) if (this.leases.holderOf(key)?.runId === runId) this.#unconfirmed.set(key, { key, runId, priority });
    if (report.failed.length > 0) this.#unconfirmedChanged();
    this.#releaseConfirmed(runId);
    return report;
  }

  /** Releases what `runId` holds but an unconfirmed OFF (those stay until an OFF succeeds). */
  #releaseConfirmed(runId: string): void {
    const kept = this.leases.keysOf(runId).filter((key) => this.#unconfirmed.get(key)?.runId === runId);
    this.leases.releaseAll(runId);
    this.#shared?.releaseRun(runId, kept);
    for (const key of kept) this.leases.acquire(key, this.#unconfirmed.get(key) as UnconfirmedLease);
  }

  /** A device confirmed `key` OFF: a lease an unconfirmed safe state left on it goes. */
  #confirmedOff(key: string): void {
    this.#leftOn.delete(key);
    const lease = this.#unconfirmed.get(key);
    if (!lease) return;
    this.#unconfirmed.delete(key);
    this.leases.release(key, lease.runId);
    this.#unconfirmedChanged();
  }

  #unconfirmedChanged(): void {
    this.#onUnconfirmedChange([...this.#unconfirmed.values()]);
  }

  /** The leases failed safe states left, for `GET /devices` and operators. */
  unconfirmed(): UnconfirmedLease[] {
    return [...this.#unconfirmed.values()];
  }

  /**
   * An operator's OFF to one actuator (`POST /devices/{esp_id}/actuators/{gpio}/off`), within the
   * safe-state timeout, past leases, rate limits and the latch as every safe-state OFF. Confirmed:
   * a lease a failed safe state left on it is released. Not confirmed: throws 5643 (409).
   */
  async operatorOff(espId: string, gpio: number): Promise<{ released_from_run: string | null }> {
    const key = leaseKey(espId, gpio);
    const heldBy = this.#unconfirmed.get(key)?.runId ?? null;
    const report = await this.turnOff([key]);
    const failure = report.failed[0];
    if (failure) {
      const kept = heldBy === null ? '' : `; its lease stays with run ${heldBy}`;
      throw new SequencerError(Codes.SAFE_STATE_FAILED, `${key} could not be confirmed OFF: ${failure.message}${kept}`, [], 409);
    }
    return { released_from_run: heldBy };
  }

  /**
   * A run ended: whatever it holds is released (a completed run leaves its actuators as it set
   * them), but an actuator its safe state could not confirm OFF.
   */
  runEnded(runId: string): void {
    this.#releaseConfirmed(runId);
    this.#leaveOn.delete(runId);
  }

  /**
   * Rebuilds a recovered run's leases from what it commanded before the restart: the actuator
   * commands of its successful steps, in order, plus the one that was in flight (it may have
   * reached the device), so its safe state can still turn them OFF.
   */
  restore(runId: string, priority: number, commands: readonly RecoveredCommand[]): void {
    for (const { esp_id, gpio, leave_on, ...command } of commands) {
      const key = leaseKey(esp_id, gpio);
      if (command.command !== 'OFF') this.leases.acquire(key, { runId, priority });
      this.#applied(runId, key, command, leave_on);
    }
  }

  /** A run left memory: forget that it ever touched anything (but what its safe state could not confirm OFF). */
  runDropped(runId: string): void {
    this.leases.forget(runId);
    for (const lease of this.#unconfirmed.values()) if (lease.runId === runId) this.leases.acquire(lease.key, lease);
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
        // A timer of our own rather than AbortSignal.timeout: the engine's clock (and a test's fake one) drives it.
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(new SequencerError(Codes.SAFE_STATE_FAILED, `no answer within ${this.#offTimeoutMs / 1000} s`)), this.#offTimeoutMs);
        try {
          const answer = await this.#driver.send(command, { signal: controller.signal, timeoutMs: this.#offTimeoutMs });
          if (answer.success) {
            report.off.push(key);
            this.#confirmedOff(key);
          } else {
            report.failed.push({ key, esp_id: command.esp_id, gpio: command.gpio, message: answer.message });
          }
        } catch (error) {
          report.failed.push({ key, esp_id: command.esp_id, gpio: command.gpio, message: error instanceof Error ? error.message : String(error) });
        } finally {
          clearTimeout(timer);
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
    for (const key of this.#leftOn.keys()) keys.add(key);
    for (const key of this.#unconfirmed.keys()) keys.add(key);
    return keys;
  }

  /** Stops the rate limiter's waiters. Idempotent. */
  close(): void {
    this.limiter.close();
  }
}
