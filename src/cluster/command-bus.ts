/**
 * Control calls for runs another node drives (SPEC 14): the caller inserts a row into `commands`
 * for the owning node and NOTIFYs it; the owner executes it and writes the answer in the same
 * transaction that took the row (`FOR UPDATE SKIP LOCKED`); the caller takes the answer out of the
 * table (`DELETE ... RETURNING`) when notified, polling as the fallback. A caller waits at most
 * `timeoutMs`: then it withdraws the command unless the owner is executing it, and answers
 * 503/5661, so nothing is executed late behind an answer that said it was not.
 */
import type { Pool } from 'pg';
import { Codes, SequencerError, type ErrorDetail } from '../domain/errors.ts';
import { inTransaction } from './pg-transaction.ts';
import { PgWakeup } from './pg-wakeup.ts';

const COMMANDS_CHANNEL = 'sequencer_commands';
const RESULTS_CHANNEL = 'sequencer_command_results';

/** The calls that travel between nodes: control calls, and the progress of a run. */
export type CommandKind = 'cancel' | 'pause' | 'resume' | 'signal' | 'progress';

/** Options of {@link CommandBus}. */
export interface CommandBusOptions {
  pool: Pool;
  nodeId: string;
  /** Executes a command addressed to this node: resolves with the answer, or throws (a SequencerError). */
  execute(kind: CommandKind, runId: string, body: unknown): Promise<unknown>;
  /** Longest wait for an owner's answer (default 5,000 ms). */
  timeoutMs?: number;
  /** Milliseconds between polls (default 500). */
  pollMs?: number;
  /** Where failures of the bus itself go (default: nowhere). */
  onError?(error: unknown): void;
}

/** An answer as stored: the value, or the error to throw on the caller's side. */
type Answer = { ok: true; value: unknown } | { ok: false; code: number; message: string; status: number; details: ErrorDetail[] };

interface Waiter {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
}

/** Sends control calls to other nodes and executes those sent to this one. */
export class CommandBus {
  readonly #options: CommandBusOptions;
  readonly #inbox: PgWakeup;
  readonly #answers: PgWakeup;
  readonly #waiting = new Map<string, Waiter>();

  constructor(options: CommandBusOptions) {
    this.#options = options;
    const common = { pool: options.pool, ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}), ...(options.onError ? { onError: options.onError } : {}) };
    this.#inbox = new PgWakeup({ ...common, channel: COMMANDS_CHANNEL, check: () => this.#serve() });
    this.#answers = new PgWakeup({ ...common, channel: RESULTS_CHANNEL, check: () => this.#collect() });
  }

  /** Starts serving this node's commands and hearing answers; resolves once those waiting are served. */
  async start(): Promise<void> {
    await Promise.all([this.#inbox.start(), this.#answers.start()]);
    this.#inbox.wake();
    await this.#inbox.settled();
  }

  /**
   * Sends a command to the node `target` and resolves with its answer (or rejects with its error,
   * or 5661 after `timeoutMs`, default the bus's).
   */
  async send(target: string, runId: string, kind: CommandKind, body: unknown = {}, timeoutMs = this.#options.timeoutMs ?? 5000): Promise<unknown> {
    const { rows } = await this.#options.pool.query<{ id: string }>(
      `WITH c AS (INSERT INTO commands (target_node, run_id, kind, body) VALUES ($1, $2, $3, $4) RETURNING id)
       SELECT id, pg_notify($5, '') FROM c`,
      [target, runId, kind, JSON.stringify(body), COMMANDS_CHANNEL],
    );
    const id = (rows[0] as { id: string }).id;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => void this.#expire(id, target, timeoutMs), timeoutMs);
      this.#waiting.set(id, { resolve, reject, timer });
      this.#answers.wake();
    });
  }

  #serve(): Promise<void> {
    return inTransaction(this.#options.pool, async (client) => {
      const { rows } = await client.query<{ id: string; run_id: string; kind: CommandKind; body: string }>(
        'SELECT id, run_id, kind, body FROM commands WHERE target_node = $1 AND done_at IS NULL ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED',
        [this.#options.nodeId],
      );
      const ids: string[] = [];
      const answers: string[] = [];
      for (const row of rows) {
        ids.push(row.id);
        answers.push(JSON.stringify(await this.#answer(row.kind, row.run_id, JSON.parse(row.body))));
      }
      if (ids.length > 0) {
        await client.query(
          `UPDATE commands c SET done_at = now(), result = a.result FROM unnest($1::bigint[], $2::text[]) AS a(id, result) WHERE c.id = a.id`,
          [ids, answers],
        );
        await client.query('SELECT pg_notify($1, \'\')', [RESULTS_CHANNEL]);
      }
    });
  }

  async #answer(kind: CommandKind, runId: string, body: unknown): Promise<Answer> {
    try {
      return { ok: true, value: await this.#options.execute(kind, runId, body) };
    } catch (error) {
      if (error instanceof SequencerError) return { ok: false, code: error.code, message: error.message, status: error.httpStatus, details: error.details };
      this.#options.onError?.(error);
      return { ok: false, code: Codes.INTERNAL_ERROR, message: 'The owning node failed to execute the command', status: 500, details: [] };
    }
  }

  async #collect(): Promise<void> {
    if (this.#waiting.size === 0) return;
    const { rows } = await this.#options.pool.query<{ id: string; result: string }>(
      'DELETE FROM commands WHERE id = ANY($1::bigint[]) AND done_at IS NOT NULL RETURNING id, result',
      [[...this.#waiting.keys()]],
    );
    for (const row of rows) this.#settle(row.id, JSON.parse(row.result) as Answer);
  }

  #settle(id: string, answer: Answer): void {
    const waiter = this.#waiting.get(id);
    if (!waiter) return;
    this.#waiting.delete(id);
    clearTimeout(waiter.timer);
    if (answer.ok) waiter.resolve(answer.value);
    else waiter.reject(new SequencerError(answer.code, answer.message, answer.details, answer.status));
  }

  /** No answer in time: the command is withdrawn unless its owner holds it (then it may still apply). */
  async #expire(id: string, target: string, timeoutMs: number): Promise<void> {
    let executing = false;
    try {
      const withdrawn = await this.#options.pool.query(
        'DELETE FROM commands WHERE id IN (SELECT id FROM commands WHERE id = $1 AND done_at IS NULL FOR UPDATE SKIP LOCKED) RETURNING id',
        [id],
      );
      executing = withdrawn.rowCount === 0;
      // Answered between the timer and the withdrawal: that answer stands.
      if (executing) await this.#collect();
    } catch (error) {
      this.#options.onError?.(error);
    }
    if (!this.#waiting.has(id)) return;
    const late = executing ? '; it is executing it and it may still take effect' : '; the command was withdrawn';
    this.#settle(id, {
      ok: false,
      code: Codes.NODE_UNREACHABLE,
      message: `Node ${target} did not answer within ${timeoutMs / 1000} s${late}`,
      status: 503,
      details: [],
    });
  }

  /** Stops serving; callers still waiting get 5661. Idempotent. */
  async close(): Promise<void> {
    await Promise.all([this.#inbox.close(), this.#answers.close()]);
    for (const [id, waiter] of this.#waiting) {
      clearTimeout(waiter.timer);
      this.#waiting.delete(id);
      waiter.reject(new SequencerError(Codes.NODE_UNREACHABLE, 'This node is shutting down before the answer came', [], 503));
    }
  }
}
