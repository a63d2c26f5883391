/**
 * `sequencer serve` (SPEC 12): resolves the configuration, starts the server, prints
 * `listening on http://HOST:PORT`, and on SIGINT or SIGTERM shuts down gracefully and returns 0.
 * A bad configuration prints why on stderr and returns 2 before anything starts.
 */
import { ConfigError, configFromFlags, SERVE_SPEC } from '../config/load-config.ts';
import type { ServerConfig } from '../config/server-config.ts';
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
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(config, {
      onError: (error, message) => process.stderr.write(`sequencer: ${message}: ${error instanceof Error ? error.message : String(error)}\n`),
    });
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
    process.stderr.write(
      `sequencer: recovered unfinished runs (--recovery ${config.recovery}): ${resumed} resumed, ${aborted} aborted, ` +
        `${queued} queued again, ${failed} could not be recovered\n`,
    );
  }
  if (cancelled > 0) process.stderr.write(`sequencer: the emergency stop is active: ${cancelled} recovered runs cancelled\n`);
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
  process.stderr.write(`sequencer: ${signal}, shutting down\n`);

  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), CLOSE_DEADLINE_MS);
  });
  const outcome = await Promise.race([server.close().then(() => 'closed' as const), deadline]).catch((error: unknown) => {
    process.stderr.write(`sequencer: shutdown failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return 'failed' as const;
  });
  clearTimeout(timer);
  if (outcome === 'timeout') {
    process.stderr.write(`sequencer: shutdown took longer than ${CLOSE_DEADLINE_MS} ms; exiting anyway\n`);
    process.exit(1);
  }
  const code = outcome === 'closed' ? 0 : 1;
  // Everything is closed; a handle some library forgot must not keep the process past the deadline.
  setTimeout(() => process.exit(code), 500).unref();
  return code;
}
