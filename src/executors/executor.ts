/**
 * The contract of an action executor and the registry that maps action types to executors.
 * The engine calls `execute` for each attempt of an action step; the result or the thrown
 * `SequencerError` becomes the step's outcome. New action types are added by registering one.
 */
import type { ZodType } from 'zod';
import type { EventType, SequenceEvents } from '../events/event-types.ts';

/** Publishes one event of the typed map. */
export type EventEmitFn = <T extends EventType>(type: T, data: SequenceEvents[T]) => void;

/** What an executor knows about the attempt it runs. */
export interface ExecutionContext {
  runId: string;
  /** The top-level run (the run itself unless nested): actuator leases belong to it. */
  rootRunId: string;
  sequenceId: string;
  /** Lower number = more important (SPEC 2); decides actuator conflicts. */
  priority: number;
  ruleName: string | null;
  stepIndex: number;
  stepName: string;
  phase: 'steps' | 'cleanup';
  /** Failed attempts of this step so far. */
  attempt: number;
  /** Nesting depth of the run (1 = top level). */
  depth: number;
  /** Aborted when the attempt times out or the run is cancelled. */
  signal: AbortSignal;
  /** The attempt's time budget and its absolute end (Unix ms). */
  timeoutMs: number;
  deadline: number;
  /** Lets a long-running action (a nested run) be paused and resumed with its run. */
  attachControl(control: { pause(): void; resume(): void; signal?(name: string): void }): void;
  /** Publishes an event through the engine, in order with the run's other events. */
  emit: EventEmitFn;
}

/** One action type's executor. */
export interface Executor<A = Record<string, unknown>> {
  /** The action type, and any alias it answers to (`actuator` for `actuator_command`). */
  readonly type: string;
  readonly aliases?: readonly string[];
  /** Validates the action's payload; its issues become 5602 errors with JSON paths. */
  readonly schema: ZodType<A>;
  /**
   * Runs one attempt of an action as `schema` parsed it when the definition was validated
   * (defaults filled). Resolves with a message for the step result; throws to fail the attempt.
   * Absent for types the engine runs itself: a `delay` action is a wait of the statechart, so it
   * pauses and survives restarts like any delay.
   */
  execute?(action: A, context: ExecutionContext): Promise<string>;
  /** Internal types (e.g. the safe-state step) cannot be named in a definition. */
  readonly internal?: boolean;
  /**
   * Whether the action's effect leaves this process (a device over MQTT, a webhook). Such an action
   * starts only once the transition that asked for it is committed, so no device is told anything
   * by a run a restart would not know. False for effects a crash takes with it (simulated devices,
   * nested runs): they start at once. Default true.
   */
  readonly external?: boolean;
}

/** Maps action types (and aliases) to executors. */
export class ExecutorRegistry {
  readonly #byType = new Map<string, Executor<any>>();

  /** Registers an executor under its type and aliases; a later registration replaces an earlier one. */
  register(executor: Executor<any>): this {
    this.#byType.set(executor.type, executor);
    for (const alias of executor.aliases ?? []) this.#byType.set(alias, executor);
    return this;
  }

  /** The executor of an action type, or undefined. */
  get(type: string): Executor | undefined {
    return this.#byType.get(type);
  }

  /** The schema of every public action type, once each (aliases share their type's), in registration order. */
  publicSchemas(): ZodType[] {
    return [...new Set([...this.#byType.values()].filter((executor) => !executor.internal).map((executor) => executor.schema))];
  }

  /** The schema of a public action type (what definitions may name), or undefined. */
  schemaFor(type: string): ZodType | undefined {
    const executor = this.#byType.get(type);
    return executor && !executor.internal ? executor.schema : undefined;
  }
}
