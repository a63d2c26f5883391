/**
 * The one error a store throws when it cannot be opened. The CLI maps `reason` to a message and an
 * exit code, so every fault at start is reported the same way and never as a stack trace.
 */

/**
 * Why a store could not be opened:
 * - `corrupt`: the file is not a SQLite database or fails its integrity check (left untouched);
 * - `locked`: another process holds the database lock;
 * - `full`: no space left on the device;
 * - `io`: the file or its directory cannot be created, read or written;
 * - `newer-schema`: the database was written by a newer Sequencer than this one;
 * - `foreign`: a valid SQLite database that is not a Sequencer database (left untouched).
 */
export type StoreOpenReason = 'corrupt' | 'locked' | 'full' | 'io' | 'newer-schema' | 'foreign';

/** A store that could not be opened; `path` names the database so the message can point at it. */
export class StoreOpenError extends Error {
  override readonly name = 'StoreOpenError';

  constructor(
    readonly reason: StoreOpenReason,
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
