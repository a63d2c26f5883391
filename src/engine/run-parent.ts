/**
 * What a run's actor is given as its parent. XState tells a parent that a child ended or threw
 * with an event whose type names the child (`xstate.done.actor.<id>`), and each state node that
 * receives an event keeps its candidate transitions in a cache keyed by the event type: with a new
 * run id in every type, the registry's cache (and, for nested runs, the sequence machine's) would
 * grow by an entry per run for as long as the server runs. So a run's actor reports to this
 * stand-in instead. It carries the real parent's system and session, so runs still share the
 * registry's actor system and the inspector still draws them under their parent, and it hands
 * the two events on as calls with the run id.
 */

/** The parts of a parent actor XState uses: its system, its session, and `_send` for the child's end. */
export interface RunParent {
  readonly system: unknown;
  readonly sessionId: string;
  _send(event: { type: string; error?: unknown }): void;
}

/** What becomes of a child's end. */
export interface RunParentHooks {
  /** The run's actor reached a final state. */
  ended(runId: string): void;
  /** The run's actor threw (a defect in an action) and moves no more. */
  crashed(runId: string, error: unknown): void;
}

const DONE = 'xstate.done.actor.';
const ERROR = 'xstate.error.actor.';

/** A parent for run actors that stands for `parent` and reports their ends to `hooks`. */
export function runParent(parent: { readonly system: unknown; readonly sessionId: string }, hooks: RunParentHooks): RunParent {
  return {
    system: parent.system,
    sessionId: parent.sessionId,
    _send(event) {
      if (event.type.startsWith(DONE)) hooks.ended(event.type.slice(DONE.length));
      else if (event.type.startsWith(ERROR)) hooks.crashed(event.type.slice(ERROR.length), event.error);
    },
  };
}
