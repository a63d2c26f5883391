/**
 * The server's one logger (SPEC 12): pino, JSON lines on stderr, `info` by default. Every part of
 * the server logs through the instance the composition root hands out (the HTTP layer, the run
 * lifecycle, the driver, start-up and shutdown), so one `--log-level` governs them all and a test
 * can read every line from one stream. On a terminal the lines are rendered for people by
 * pino-pretty; anywhere else (a pipe, a file, journald) they stay JSON for machines.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/** The levels `--log-level` accepts, most severe first. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A level of LOG_LEVELS. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Options of a logger; every field has a default. */
export interface LoggerOptions {
  /** Least severe level written (default `info`). */
  level?: LogLevel;
  /** Where the lines go (default stderr). Tests pass a stream that collects them. */
  destination?: DestinationStream;
  /** Render lines for people (default: when the lines go to stderr and stderr is a terminal). */
  pretty?: boolean;
}

/** Builds the logger. pino-pretty is loaded only when lines are rendered for people. */
export async function createLogger(options: LoggerOptions = {}): Promise<Logger> {
  const level = options.level ?? 'info';
  // No hostname: one server per host, and the line stays short.
  const base = { level, base: { pid: process.pid } };
  if (options.pretty ?? (options.destination === undefined && process.stderr.isTTY === true)) {
    const { default: pretty } = await import('pino-pretty');
    return pino(base, pretty({ destination: options.destination ?? 2, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid' }));
  }
  // Synchronous: the lines are few (runs, not events), and none may be lost when the process exits.
  return pino(base, options.destination ?? pino.destination({ dest: 2, sync: true }));
}

/** A logger that writes nothing: the default of services built without one (the CLI's `run`, tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
