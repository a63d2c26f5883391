/**
 * `sequencer serve` (SPEC 12): resolves the configuration, starts the server, prints
 * `listening on http://HOST:PORT` (the only line on stdout, for scripts), logs on stderr, and on
 * SIGINT or SIGTERM shuts down gracefully and returns 0. What stops it before it listens (a bad
 * configuration: 2, an unusable database: 3..8, anything else: 1) is one plain line on stderr.
 */
import { ConfigError, configFromFlags, SERVE_SPEC } from '../config/load-config.ts';
import type { ServerConfig } from '../config/server-config.ts';
import { createLogger } from '../logging/logger.ts';
import { startServer } from '../server.ts';
import { StoreOpenError, type StoreOpenReason } from '../store/store-open.error.ts';
import type { Command, ParsedArgs } from './command-line.ts';

/** Exit codes of a database that cannot be used, one per reason, so scripts can tell them apart. */
const STORE_EXIT_CODES: Record<StoreOpenReason, number> = { corrupt: 3, locked: 4, full: 5, io: 6, 'newer-schema': 7, foreign: 8 };

/** How long shutdown may take before the process gives up waiting (SPEC: exit within 5 s). */
const CLOSE_DEADLINE_MS = 4_500;

/** `sequencer serve`. */
export const command: Command = { spec: SERVE_SPEC, run: serve };

/** Runs the server until a signal; returns the exit code. */
async function serve(args: ParsedArgs<typeof SERVE_SPEC.flags>): Promise<number> {
  let config: ServerConfig;
  try {
    config = configFromFlags(args.values, process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`sequencer: ${error.message}\n`);
    return 2;
  }
  // From here on stderr carries log lines; what ends the command before it listens stays one plain line.
  const logger = await createLogger({ level: config.logLevel });
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(config, { logger });
  } catch (error) {
    if (error instanceof StoreOpenError) {
      // The database is never overwritten or replaced: a person must look at it.
      process.stderr.write(`sequencer: cannot use the database (${error.reason}): ${error.message}\n`);
      return STORE_EXIT_CODES[error.reason];
    }
    // A port in use, a broker that cannot start: the reason, not a stack trace.
    process.stderr.write(`sequencer: cannot start: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  const { resumed, aborted, queued, failed, cancelled } = server.services.recovered;
  if (resumed + aborted + queued + failed > 0) {
    // After a crash this is the operator's first sign of what the restart did with the runs.
    logger.info(
      { recovery: config.recovery, resumed, aborted, queued, failed },
      `recovered unfinished runs (--recovery ${config.recovery}): ${resumed} resumed, ${aborted} aborted, ` +
        `${queued} queued again, ${failed} could not be recovered`,
    );
  }
  if (cancelled > 0) logger.warn({ cancelled }, `the emergency stop is active: ${cancelled} recovered runs cancelled`);
  process.stdout.write(`listening on ${server.url}\n`);
  if (server.services.inspector) process.stdout.write(`inspector: open ${server.services.inspector.pageUrl}\n`);

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  // A second signal while draining means "now": the person has stopped waiting.
  const again = () => process.exit(130);
  process.once('SIGINT', again);
  process.once('SIGTERM', again);
  logger.info({ signal }, `${signal}, shutting down`);

  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), CLOSE_DEADLINE_MS);
  });
  const outcome = await Promise.race([server.close().then(() => 'closed' as const), deadline]).catch((error: unknown) => {
    logger.error({ err: error }, 'shutdown failed');
    return 'failed' as const;
  });
  clearTimeout(timer);
  if (outcome === 'timeout') {
    logger.error(`shutdown took longer than ${CLOSE_DEADLINE_MS} ms; exiting anyway`);
    process.exit(1);
  }
  const code = outcome === 'closed' ? 0 : 1;
  // Everything is closed; a handle some library forgot must not keep the process past the deadline.
  setTimeout(() => process.exit(code), 500).unref();
  return code;
}
