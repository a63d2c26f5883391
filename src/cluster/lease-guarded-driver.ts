/**
 * The last gate of the zombie guard (SPEC 14): every actuator command of a node on a shared store
 * passes here, and none leaves once the node's lease validity has passed. The engine checks before
 * an action starts, but a command can wait after that check (behind a rate limit, in a safe state
 * that retries) and a frozen process wakes up with such waits due: the check right before the
 * command leaves covers them all.
 */
import { Codes, SequencerError } from '../domain/errors.ts';
import type { ActuatorCommand, ActuatorDriver, ActuatorResponse, SendOptions } from '../drivers/actuator-driver.ts';

/** A driver that refuses every command while `mayDrive()` says no. */
class LeaseGuardedDriver implements ActuatorDriver {
  readonly #inner: ActuatorDriver;
  readonly #mayDrive: () => boolean;

  constructor(inner: ActuatorDriver, mayDrive: () => boolean) {
    this.#inner = inner;
    this.#mayDrive = mayDrive;
  }

  get kind(): ActuatorDriver['kind'] {
    return this.#inner.kind;
  }

  start(): Promise<void> {
    return this.#inner.start();
  }

  async send(command: ActuatorCommand, options: SendOptions): Promise<ActuatorResponse> {
    if (!this.#mayDrive()) {
      throw new SequencerError(Codes.SAFETY_BLOCKED, `${command.esp_id} gpio ${command.gpio} ${command.command} not sent: this node's run leases are not renewed, another node drives its runs`);
    }
    return this.#inner.send(command, options);
  }

  health() {
    return this.#inner.health();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

/** Wraps `driver` so that no command leaves while `mayDrive()` is false. */
export function leaseGuarded(driver: ActuatorDriver, mayDrive: () => boolean): ActuatorDriver {
  return new LeaseGuardedDriver(driver, mayDrive);
}
