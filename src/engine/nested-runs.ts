/**
 * Nested sequences (the `sequence` action): a child run is an actor of its own under a stand-in
 * for its parent run. It publishes nothing and is not stored apart (its parent's step speaks and
 * is recovered for it); its end settles the parent's attempt, its crash is its top-level run's.
 */
import type { PlanAction, SequencePlan } from '../../machines/sequence.types.ts';
import type { SequenceDefinition } from '../domain/definition.schema.ts';
import { Codes, SequencerError } from '../domain/errors.ts';
import type { ExecutionContext } from '../executors/executor.ts';
import type { Admission } from './admission.ts';
import type { RunBook } from './run-book.ts';
import type { RunHost } from './run-host.ts';
import { runParent } from './run-parent.ts';

/** What nested runs are made with. */
export interface NestedParts {
  book: RunBook;
  host: RunHost;
  admission: Admission;
}

/** Runs a nested sequence as a child actor of the parent run and settles the parent's attempt. */
export function runNested(parts: NestedParts, action: PlanAction, context: ExecutionContext): Promise<string> {
  const { book, host, admission } = parts;
  const parent = book.runs.get(context.runId);
  if (!parent?.actor) return Promise.reject(new SequencerError(Codes.INTERNAL_ERROR, 'Parent run is gone'));
  const plan = action.plan as SequencePlan;
  const definition = { description: parent.description ?? undefined, mode: parent.mode, priority: parent.priority, sequence_id: `${parent.sequenceId}/${context.stepName}` } as SequenceDefinition;
  const child = admission.newRun(definition, plan, {}, parent);
  book.runs.set(child.runId, child);
  // The child's end reaches its parent's attempt through `onEnd`; its crash is its top-level run's.
  const root = parent.root;
  const actor = host.createActor(
    child,
    runParent(parent.actor, {
      ended: () => {},
      crashed: (_, error) => admission.registry.send({ type: 'RUN_CRASHED', runId: root.runId, error }),
    }),
  );
  return new Promise<string>((resolve, reject) => {
    child.onEnd = (ended) => {
      const ctx = ended.snapshot?.context;
      if (ended.status === 'completed') resolve(`Nested sequence completed ${ctx?.results.length ?? 0} steps`);
      else reject(new SequencerError(ctx?.end?.code ?? Codes.STEP_FAILED, `Nested sequence ${ended.status}: ${ctx?.end?.message ?? ''}`));
    };
    // These arrive from the parent's transition; the child moves after it, not inside it.
    const later = (event: { type: 'CANCEL'; reason: string } | { type: 'PAUSE' } | { type: 'RESUME' } | { type: 'SIGNAL'; name: string }) =>
      queueMicrotask(() => host.send(child, event));
    context.signal.addEventListener('abort', () => later({ type: 'CANCEL', reason: 'parent step aborted' }), { once: true });
    context.attachControl({ pause: () => later({ type: 'PAUSE' }), resume: () => later({ type: 'RESUME' }), signal: (name) => later({ type: 'SIGNAL', name }) });
    actor.start();
    host.send(child, { type: 'START' });
  });
}
