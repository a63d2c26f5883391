/**
 * Start modes across the nodes of a cluster (SPEC 6, SPEC 14). A start of a named sequence that
 * is not `parallel` takes `pg_advisory_xact_lock(hashtext(sequence_id))` and looks for unfinished
 * runs of it on other nodes; the lock is held until this node's start record is committed, so two
 * nodes starting the same sequence at the same moment decide one after the other. Another node's
 * run makes `single` answer 409/5610; `restart` cancels it through its node and waits (bounded)
 * until it has ended, then starts here; `queued` is admitted pending here (the cluster's waiting runs
 * of it count toward the limit of 10) and started by `startQueued` once no other node runs it.
 * This node's own runs are its engine's to judge, as on one node.
 *
 * The concurrency limit is the cluster's: every start then takes one more lock (`CONCURRENCY_LOCK`,
 * after the sequence's, so a `restart` waiting for its old run does not hold up every other start)
 * and counts the runs other nodes have started and not ended (queued ones not: they are `pending`),
 * which the engine adds to its own when it checks the limit. The lock is held until this node's
 * start record is committed, so every node's count includes every admitted run.
 */
import type { Pool, PoolClient } from 'pg';
import type { SequenceDefinition } from '../domain/definition.schema.ts';
import { Codes, SequencerError } from '../domain/errors.ts';
import type { QueuedElsewhere, StartResult } from '../engine/engine.ts';
import { inTransaction } from './pg-transaction.ts';

/** Transaction advisory lock serialising admissions against the cluster-wide concurrency limit. */
const CONCURRENCY_LOCK = 0x5e9_c1_0003;

/** Runs other nodes started and have not ended; paused runs count, queued (`pending`) ones do not. */
const RUNNING_ELSEWHERE = `SELECT count(*)::int AS n FROM run_starts s JOIN runs r USING (run_id) WHERE s.owner <> $1 AND r.status <> 'pending'`;

/** Admits a start on this node, given how many runs the other nodes are running. */
export type LocalStart = (runningElsewhere: number, waitingFor?: QueuedElsewhere) => StartResult;

/** Unfinished runs of a sequence on other nodes, queued (`pending`) ones apart. */
const SEQUENCE_ELSEWHERE = `SELECT s.run_id, s.owner, r.status FROM run_starts s JOIN runs r USING (run_id) WHERE r.sequence_id = $1 AND s.owner <> $2 ORDER BY s.created_at`;

/** Longest wait for another node's run to end after a `restart` cancelled it. */
const RESTART_WAIT_MS = 10_000;

/** What admission needs from the rest of the node. */
export interface AdmissionHooks {
  /** Cancels a run on the node that drives it (the command bus). */
  cancel(runId: string, reason: string): Promise<unknown>;
  /** Resolves once this node's pending writes (the new start record) are committed. */
  durable(): Promise<void>;
}

/** Admits starts against the runs of the other nodes. */
export class ClusterAdmission {
  readonly #pool: Pool;
  readonly #nodeId: string;
  readonly #hooks: AdmissionHooks;

  constructor(pool: Pool, nodeId: string, hooks: AdmissionHooks) {
    this.#pool = pool;
    this.#nodeId = nodeId;
    this.#hooks = hooks;
  }

  /**
   * Runs `start` (this node's own admission) once the other nodes' runs of the sequence allow it,
   * with the count of runs the other nodes are running for the concurrency limit.
   * `pool` must not be the store's: the lock is held until the store commits on one of its connections.
   */
  async admit(definition: SequenceDefinition, start: LocalStart): Promise<StartResult> {
    return this.#locked(definition, start).catch((error: unknown) => {
      if (error instanceof SequencerError) throw error;
      const detail = error instanceof Error ? error.message : String(error);
      throw new SequencerError(Codes.TASK_CREATION_FAILED, `The cluster's database could not admit the start: ${detail}`, [], 503);
    });
  }

  #locked(definition: SequenceDefinition, start: LocalStart): Promise<StartResult> {
    return inTransaction(this.#pool, async (client) => {
      const sequenceId = definition.sequence_id;
      const waitingFor = sequenceId !== undefined && definition.mode !== 'parallel' ? await this.#startModes(client, sequenceId, definition) : undefined;
      await client.query('SELECT pg_advisory_xact_lock($1)', [CONCURRENCY_LOCK]);
      const { rows } = await client.query<{ n: number }>(RUNNING_ELSEWHERE, [this.#nodeId]);
      const result = start(rows[0]?.n ?? 0, waitingFor);
      await this.#hooks.durable();
      return result;
    });
  }

  /** Refuses, or makes way for, the start by the other nodes' unfinished runs of the sequence (under its lock). */
  async #startModes(client: PoolClient, sequenceId: string, definition: SequenceDefinition): Promise<QueuedElsewhere | undefined> {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [sequenceId]);
    const { rows } = await client.query<{ run_id: string; owner: string; status: string }>(SEQUENCE_ELSEWHERE, [sequenceId, this.#nodeId]);
    if (definition.mode === 'queued') return { unfinished: rows.length, pending: rows.filter((row) => row.status === 'pending').length };
    const elsewhere = rows[0];
    if (elsewhere && definition.mode !== 'restart') {
      throw new SequencerError(Codes.ALREADY_RUNNING, `Sequence '${sequenceId}' is already running on node ${elsewhere.owner} (run ${elsewhere.run_id})`);
    }
    if (elsewhere) await this.#restart(rows.map((row) => row.run_id));
    return undefined;
  }

  /**
   * Runs `launch` (this node starts its next queued run of the sequence) when, under the sequence's
   * lock, no other node runs it; the lock is held until the start is committed, so of several nodes
   * with runs queued behind the same run exactly one starts its own.
   */
  startQueued(sequenceId: string, launch: () => void): Promise<void> {
    return inTransaction(this.#pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [sequenceId]);
      const { rows } = await client.query<{ status: string }>(SEQUENCE_ELSEWHERE, [sequenceId, this.#nodeId]);
      if (rows.some((row) => row.status !== 'pending')) return;
      launch();
      await this.#hooks.durable();
    });
  }

  /** Cancels the runs and waits until each has ended (its safe state done). */
  async #restart(runIds: string[]): Promise<void> {
    // A run that is already ending refuses (409): it is on its way out either way.
    await Promise.all(runIds.map((runId) => this.#hooks.cancel(runId, 'restarted').catch(() => {})));
    const deadline = performance.now() + RESTART_WAIT_MS;
    for (;;) {
      const { rows } = await this.#pool.query<{ n: number }>('SELECT count(*)::int AS n FROM run_starts WHERE run_id = ANY($1::text[])', [runIds]);
      if (rows[0]?.n === 0) return;
      if (performance.now() > deadline) {
        throw new SequencerError(Codes.NODE_UNREACHABLE, `The running run of this sequence on another node did not end within ${RESTART_WAIT_MS / 1000} s of its cancel`, [], 503);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
