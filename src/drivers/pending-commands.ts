/**
 * The commands waiting for a device's answer, and the rule that pairs an answer with one of them
 * (SPEC 9): by `correlation_id` when the answer carries one; otherwise the oldest command waiting
 * on that response topic with the same `command` (and the same `value` for PWM). An answer that
 * pairs with nothing is left to the caller to count: it is never given to another command.
 */

/** A command waiting for its answer. */
export interface Waiting {
  /** The command's correlation id, unique among waiting commands. */
  readonly id: string;
  /** The only topic an answer to it may arrive on. */
  readonly topic: string;
  /** `ON`, `OFF`, `PWM` or `TOGGLE`, as sent. */
  readonly command: string;
  /** The duty sent (0..1). */
  readonly value: number;
}

/** What an answer says about which command it answers. */
export interface AnswerKey {
  correlation_id?: string;
  command?: string;
  value?: number;
}

/** The firmware prints `value` with 3 decimals; a PWM answer within half a step is the same value. */
const VALUE_TOLERANCE = 0.0005;

/**
 * Waiting commands by id and, per response topic, oldest first. Matching costs one map lookup
 * (with an id) or a walk over the commands waiting on one actuator (without).
 */
export class PendingCommands<T extends Waiting> {
  readonly #byId = new Map<string, T>();
  readonly #byTopic = new Map<string, T[]>();

  /** Commands waiting right now. */
  get size(): number {
    return this.#byId.size;
  }

  /** True when a command with this id is waiting. */
  has(id: string): boolean {
    return this.#byId.has(id);
  }

  /** Adds a command at the end of its topic's queue. */
  add(entry: T): void {
    this.#byId.set(entry.id, entry);
    const queue = this.#byTopic.get(entry.topic);
    if (queue) queue.push(entry);
    else this.#byTopic.set(entry.topic, [entry]);
  }

  /** Removes a command (answered, aborted or failed); false when it was not waiting. */
  delete(entry: T): boolean {
    if (this.#byId.get(entry.id) !== entry) return false;
    this.#byId.delete(entry.id);
    const queue = this.#byTopic.get(entry.topic) ?? [];
    queue.splice(queue.indexOf(entry), 1);
    if (queue.length === 0) this.#byTopic.delete(entry.topic);
    return true;
  }

  /**
   * The waiting command an answer on `topic` belongs to, or undefined. An id that is not ours
   * (another system commanding the same node) matches nothing rather than the oldest command.
   */
  match(topic: string, answer: AnswerKey): T | undefined {
    if (answer.correlation_id !== undefined) {
      const entry = this.#byId.get(answer.correlation_id);
      return entry?.topic === topic ? entry : undefined;
    }
    const command = answer.command?.toUpperCase();
    if (command === undefined) return undefined;
    return this.#byTopic.get(topic)?.find(
      (entry) =>
        entry.command === command &&
        (command !== 'PWM' || (answer.value !== undefined && Math.abs(entry.value - answer.value) <= VALUE_TOLERANCE)),
    );
  }

  /** True while any command waits for an answer on `topic`. */
  waitingOn(topic: string): boolean {
    return this.#byTopic.has(topic);
  }

  /** Every waiting command (a copy, so the caller may settle them while iterating). */
  values(): T[] {
    return [...this.#byId.values()];
  }
}
