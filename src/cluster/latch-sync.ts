/**
 * One emergency latch for the whole cluster (SPEC 14): the latch lives in the shared settings
 * table; the node where it is pressed or cleared stores it and NOTIFYs, and every node compares
 * the stored latch with its own when notified (and every poll, the fallback) and follows it: a stop
 * cancels its runs and turns OFF what they touched, a clear lifts its block. A node follows without
 * storing anything itself, so a late echo can never undo a newer press or clear.
 */
import type { Pool } from 'pg';
import type { LatchState } from '../safety/emergency-latch.ts';
import { PgWakeup } from './pg-wakeup.ts';

const EMERGENCY_CHANNEL = 'sequencer_emergency';

/** How a node's own latch is read and made to follow. */
export interface LatchHooks {
  /** The latch as stored (undefined: never pressed). */
  stored(): Promise<LatchState | undefined>;
  /** This node's latch now. */
  local(): LatchState;
  /** Resolves once this node's own latch changes are stored. */
  written(): Promise<void>;
  /** Stops this node as a press elsewhere did: latch, runs, actuators; nothing stored, nothing broadcast. */
  stop(reason: string | null): Promise<void>;
  /** Lifts this node's latch as a clear elsewhere did; nothing stored. */
  clear(): Promise<void>;
}

/** Keeps a node's latch in step with the stored one. */
export class LatchSync {
  readonly #pool: Pool;
  readonly #hooks: LatchHooks;
  readonly #wakeup: PgWakeup;

  constructor(pool: Pool, hooks: LatchHooks, options: { pollMs?: number; onError(error: unknown): void }) {
    this.#pool = pool;
    this.#hooks = hooks;
    this.#wakeup = new PgWakeup({ pool, channel: EMERGENCY_CHANNEL, check: () => this.#follow(), ...options });
  }

  start(): Promise<void> {
    return this.#wakeup.start();
  }

  /** Tells every node that the stored latch changed (after this node stored its press or clear). */
  async announce(): Promise<void> {
    await this.#pool.query("SELECT pg_notify($1, '')", [EMERGENCY_CHANNEL]);
  }

  async #follow(): Promise<void> {
    const { stored, local, written, stop, clear } = this.#hooks;
    await written();
    const before = local();
    const latch = await stored();
    // Pressed or cleared here while reading: that newer change is this node's own, not to undo.
    if (local().since !== before.since) return;
    const active = latch?.active === true;
    if (active && !before.active) await stop(latch.reason);
    else if (!active && before.active) await clear();
  }

  close(): Promise<void> {
    return this.#wakeup.close();
  }
}
