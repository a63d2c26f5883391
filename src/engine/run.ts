/**
 * The engine's record of one run: identity, what it runs, its actor, and what the host keeps
 * beside the actor (timer, action in flight). One object per run, found by run_id in O(1).
 */
import type { Actor } from 'xstate';
import type { CheckParams, SequenceEvent, SequenceMachine, SequencePlan } from '../../machines/sequence.machine.ts';
import type { SequenceDefinition } from '../domain/definition.schema.ts';
import type { RunContext, RunStatus } from '../domain/progress.ts';
import type { Redrive } from './engine-options.ts';

/** The action attempt a run has in flight. */
export interface InFlight {
  attemptId: number;
  controller: AbortController;
  /** A nested run's pause/resume (and signals passed on to it), when the action is one. */
  control: RunControl | null;
}

/** How a parent reaches the nested run its action runs. */
export interface RunControl {
  pause(): void;
  resume(): void;
  /** A signal the parent received, passed on (a nested wait may read it). */
  signal?(name: string): void;
}

/** One run as the engine holds it. */
export interface Run {
  runId: string;
  sequenceId: string;
  /**
   * The definition as the history keeps it (as sent, with the sequence_id it runs under), until
   * its start record is written: a running run keeps its plan, not its definition.
   */
  definition: unknown;
  description: string | null;
  mode: SequenceDefinition['mode'];
  /** Lower is more important (SPEC 10). */
  priority: number;
  plan: SequencePlan;
  context: RunContext;
  template: { name: string; version: number } | null;
  /** The run this one redrives and the step it begins at (SPEC 7); null for a run of its own. */
  redrive: Redrive | null;
  createdAt: number;
  /** When the run was queued behind another run of its sequence_id (Unix ms); null when it started at once. */
  queuedAt: number | null;
  /** The run this one is nested in (null at top level); nested runs publish no events of their own. */
  parent: Run | null;
  /** The top-level run (itself at top level): owner of leases. */
  root: Run;
  depth: number;
  actor: Actor<SequenceMachine> | null;
  /** Why a run ended that never had an actor (a queued run cancelled or refused). */
  endError: { message: string; code: number } | null;
  /** The reason of the CANCEL that ended the run, as the operator gave it. */
  cancelReason: string | null;
  /** Type of the last event sent to the actor (what a `sequence_state` event says caused it). */
  lastEvent: string;
  /** The XState state value as a dotted string. */
  state: string;
  status: RunStatus;
  /** The last snapshot the engine saw (identity tells whether a transition happened). */
  snapshot: ReturnType<Actor<SequenceMachine>['getSnapshot']> | null;
  /** The deadline the run is queued for in the host's `WakeQueue` (null: none). */
  armedAt: number | null;
  /** The run's place in that queue (-1: not queued). */
  slot: number;
  inFlight: InFlight | null;
  /** The OFFs of a pause with `outputs: "off"` in flight: resolves true once all are confirmed (a resume restores after them). */
  outputsOff: Promise<boolean> | null;
  /** A condition the last transition asked about, answered right after it (see `RunHost`). */
  ask: CheckParams | null;
  endedAt: number | null;
  /** Settles a nested run's waiting parent attempt. */
  onEnd: ((run: Run) => void) | null;
  /** The events the run took since its last journal record (null for a nested run: it is not journaled). */
  turn: SequenceEvent[] | null;
  /** Journal records written since the last compact snapshot (or since the start). */
  records: number;
  /** The status the store has for the run (null: nothing stored yet). */
  storedStatus: RunStatus | null;
  /** The node that drives it (this one), on a store shared by several nodes; null on one node. */
  node: string | null;
}

/** The dotted names of the states met so far, by parent and substate: the chart has a few dozen. */
const dotted = new Map<string, Map<string, string>>();

/**
 * The dotted form of a state value: `{ running: 'executing' }` -> `running.executing`. A substate
 * (every state below the top of the sequence chart is one level deep) gives one string shared by
 * every run, not a new one per transition kept by each run.
 */
export function stateString(value: unknown): string {
  if (typeof value === 'string') return value;
  for (const key in value as Record<string, unknown>) {
    const sub = (value as Record<string, unknown>)[key];
    if (typeof sub !== 'string') return `${key}.${stateString(sub)}`;
    let names = dotted.get(key);
    if (!names) dotted.set(key, (names = new Map()));
    let name = names.get(sub);
    if (name === undefined) names.set(sub, (name = `${key}.${sub}`));
    return name;
  }
  return '';
}

/**
 * The SPEC 5 status of a state. A run in cleanup is `stopping` (ISA-88's "aborting"): it has ended
 * badly but its cleanup steps and safe state still run; its terminal status comes after them.
 */
export function statusOf(state: string): RunStatus {
  const dot = state.indexOf('.');
  const top = dot < 0 ? state : state.slice(0, dot);
  switch (top) {
    case 'idle':
      return 'pending';
    case 'cleanup':
      return 'stopping';
    case 'paused':
    case 'completed':
    case 'failed':
    case 'cancelled':
    case 'timeout':
      return top;
    default:
      return 'running';
  }
}
