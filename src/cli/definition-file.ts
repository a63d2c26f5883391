/**
 * What `sequencer run` and `sequencer validate` do with their file: read it, tell a template (a
 * definition with a `params` schema) from a plain definition, fill a template with `--params`, and
 * check the result with the engine of the server, so the answers match the REST API's.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { SequencerError, type ErrorDetail } from '../domain/errors.ts';
import type { ValidationResult } from '../domain/validate-definition.ts';
import type { Services } from '../services.ts';
import { TemplateBodySchema, type TemplateBody } from '../templates/template.schema.ts';
import { UsageError } from './command-line.ts';

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

/** The `--params` value as an object; throws UsageError when it is not JSON. */
export function parseParams(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`--params is not valid JSON: ${(error as Error).message}`);
  }
}

/** True for a template: a definition with a `params` schema (a plain definition may not have one). */
export function isTemplate(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, 'params');
}

/**
 * Checks a file's content as the server would: a plain definition as `POST /sequences/validate`
 * does; a template filled with `params` as `POST /sequence-templates/{name}/start` does (a missing
 * required parameter is a problem at `params.<name>`). Throws UsageError for `--params` on a plain
 * definition.
 */
export async function checkContent(services: Services, file: string, value: unknown, params: unknown): Promise<ValidationResult> {
  if (!isTemplate(value)) {
    if (params !== undefined) throw new UsageError(`--params fills a template (a file with "params"); ${file} is a plain definition`);
    return services.engine.validate(value);
  }
  const stored = await storeTemplate(services, file, value);
  if (!stored.ok) return stored;
  try {
    return services.engine.validate(services.templates.instantiate(stored.name, params ?? {}).definition);
  } catch (error) {
    return { ok: false, errors: problemsOf(error) };
  }
}

/** Checks a template without values, as `PUT /sequence-templates/{name}` does; its parameter schema when valid. */
export async function checkTemplate(
  services: Services,
  file: string,
  value: unknown,
): Promise<{ ok: true; params: TemplateBody['params'] } | { ok: false; errors: ErrorDetail[] }> {
  const stored = await storeTemplate(services, file, value);
  return stored.ok ? { ok: true, params: TemplateBodySchema.parse(value).params } : stored;
}

async function storeTemplate(services: Services, file: string, value: unknown): Promise<{ ok: true; name: string } | { ok: false; errors: ErrorDetail[] }> {
  // A name the store accepts, from the file's (`flush-zone.template.json` -> `flush-zone.template`).
  const name = basename(file).replace(/\.json$/i, '').replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 100) || 'template';
  try {
    await services.templates.put(name, value);
    return { ok: true, name };
  } catch (error) {
    return { ok: false, errors: problemsOf(error) };
  }
}

/** The problems a SequencerError lists (its own message when it lists none); anything else is rethrown. */
function problemsOf(error: unknown): ErrorDetail[] {
  if (!(error instanceof SequencerError)) throw error;
  return error.details.length > 0 ? error.details : [{ path: '', code: error.code, message: error.message }];
}
