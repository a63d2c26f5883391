/**
 * Runs a check whenever a PostgreSQL channel is notified, and every `pollMs` anyway: LISTEN is only
 * the wake-up (a notification is lost while the listening connection is down), polling is what
 * guarantees progress. Checks never overlap; a wake-up during a check runs it once more after.
 * The listening connection is re-opened by the next poll after it fails.
 */
import type { Pool, PoolClient } from 'pg';

/** Options of {@link PgWakeup}. */
export interface PgWakeupOptions {
  pool: Pool;
  /** The channel to LISTEN on (an SQL identifier of lowercase letters and underscores). */
  channel: string;
  /** Milliseconds between polls (default 500). */
  pollMs?: number;
  /** The check; its failure is reported and the next wake-up tries again. */
  check(): Promise<void>;
  /** Where failures go (default: nowhere). */
  onError?(error: unknown): void;
}

/** A LISTEN wake-up with a polling fallback around one check. */
export class PgWakeup {
  readonly #options: PgWakeupOptions;
  /** The listening connection, as the way to give it back (dropped, never returned to the pool). */
  #listener: { drop(): void } | null = null;
  #connecting: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #closed = false;

  constructor(options: PgWakeupOptions) {
    if (!/^[a-z_]+$/.test(options.channel)) throw new Error(`Invalid channel name ${options.channel}`);
    this.#options = options;
  }

  /** Starts listening and polling; resolves once listening (or once that failed: polling goes on). */
  async start(): Promise<void> {
    this.#timer = setInterval(() => {
      void this.#listen();
      this.wake();
    }, this.#options.pollMs ?? 500);
    await this.#listen();
  }

  /** Runs the check now, or once more after the one running. */
  wake(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop().finally(() => (this.#running = null));
  }

  /** Resolves once no check is running (a test's or a caller's way to wait for a pass). */
  async settled(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      try {
        await this.#options.check();
      } catch (error) {
        this.#options.onError?.(error);
      }
    } while (this.#again && !this.#closed);
  }

  #listen(): Promise<void> {
    if (this.#listener || this.#closed) return Promise.resolve();
    this.#connecting ??= this.#connect().finally(() => (this.#connecting = null));
    return this.#connecting;
  }

  async #connect(): Promise<void> {
    let client: PoolClient | null = null;
    let released = false;
    // A connection's error may come after close() or a failed LISTEN already gave it back: once only.
    const drop = (error?: Error) => {
      if (released || !client) return;
      released = true;
      client.release(error ?? true);
    };
    try {
      client = await this.#options.pool.connect();
      const listening = { drop };
      client.on('notification', () => this.wake());
      client.on('error', (error) => {
        this.#options.onError?.(error);
        if (this.#listener === listening) this.#listener = null;
        drop(error);
      });
      await client.query(`LISTEN ${this.#options.channel}`);
      if (this.#closed) {
        drop();
        return;
      }
      this.#listener = listening;
    } catch (error) {
      drop();
      this.#options.onError?.(error);
    }
  }

  /** Stops polling and listening; waits for a running check. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#connecting;
    // Dropped rather than returned: a pooled connection must not keep listening.
    this.#listener?.drop();
    this.#listener = null;
    await this.settled();
  }
}
