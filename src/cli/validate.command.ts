/**
 * `sequencer validate <file.json>`: checks a definition with the server's default limits and
 * built-in action types, and prints `valid` with its size and estimated duration, or every
 * problem as `path  code  message`. Exit 0 when valid, 2 otherwise. Also the file loading and
 * problem listing that `sequencer run` shares.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { defaultConfig } from '../config/server-config.ts';
import type { ErrorDetail } from '../domain/errors.ts';
import { createServices } from '../services.ts';

/** A definition file's parsed JSON, or why it could not be had. */
export type LoadedDefinition = { ok: true; value: unknown } | { ok: false; message: string };

/** Reads and parses a definition file; never throws. */
export async function readDefinition(file: string): Promise<LoadedDefinition> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    return { ok: false, message: `cannot read ${file}: ${reason}` };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, message: `${file} is not valid JSON: ${(error as Error).message}` };
  }
}

/** Every problem on its own line, paths aligned: `steps[3].delay_seconds  5605  message`. */
export function formatProblems(problems: readonly ErrorDetail[]): string {
  const width = Math.max(...problems.map((p) => (p.path || '(definition)').length));
  return problems.map((p) => `${(p.path || '(definition)').padEnd(width)}  ${p.code}  ${p.message}\n`).join('');
}

/** The file argument of `run` and `validate`, or null after printing why there is none. */
export function fileArgument(positionals: string[], usage: string): string | null {
  if (positionals.length === 1) return positionals[0] as string;
  process.stderr.write(usage);
  return null;
}

const USAGE = 'Usage: sequencer validate <file.json>\n';

/** Runs `sequencer validate`; returns the exit code. */
export async function validateCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' } } });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { positionals } = parsed;
  const file = fileArgument(positionals, USAGE);
  if (file === null) return 2;
  const loaded = await readDefinition(file);
  if (!loaded.ok) {
    process.stderr.write(`sequencer validate: ${loaded.message}\n`);
    return 2;
  }
  // The same engine as `serve` validates, so the answer matches `POST /sequences/validate`.
  const services = await createServices({ ...defaultConfig(), db: ':memory:', driver: 'sim' });
  try {
    const result = services.engine.validate(loaded.value);
    if (!result.ok) {
      process.stdout.write(formatProblems(result.errors));
      return 2;
    }
    const { steps, cleanup_steps: cleanup } = result.definition;
    const cleanupText = cleanup.length > 0 ? `, ${cleanup.length} cleanup step${cleanup.length === 1 ? '' : 's'}` : '';
    process.stdout.write(`valid: ${steps.length} step${steps.length === 1 ? '' : 's'}${cleanupText}, estimated duration ${result.estimatedSeconds} s\n`);
    return 0;
  } finally {
    await services.close();
  }
}
