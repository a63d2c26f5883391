/**
 * Stored sequence templates (SPEC 7): PUT creates or replaces one under a version that grows on
 * each PUT, and checks it first (its parameter schema, that every placeholder names a parameter,
 * that it validates once filled, that it never reaches itself through nested template calls).
 * The service is also the engine's `TemplateResolver`: nested `{"type":"sequence","template":...}`
 * actions are filled through it at validation and plan time.
 */
import type { SequenceDefinition } from '../domain/definition.schema.ts';
import { Codes, SequencerError, type ErrorDetail } from '../domain/errors.ts';
import { formatPath, type TemplateResolver, type ValidationResult } from '../domain/validate-definition.ts';
import type { RunStore, StoredTemplate } from '../store/run-store.ts';
import { definitionOf, fillTemplate, findPlaceholders, sampleValues, substitute, type Placeholder } from './fill-template.ts';
import { TemplateBodySchema, TemplateNameSchema, type ParamSpec, type TemplateBody } from './template.schema.ts';

/** The part of the store that keeps templates. */
export type TemplateStore = Pick<RunStore, 'getTemplate' | 'putTemplate' | 'deleteTemplate' | 'listTemplates'>;

/** Options of the template service. */
export interface TemplateServiceOptions {
  /** Where templates live (the run store of SPEC 11); null keeps them in memory for this process. */
  store: TemplateStore | null;
  /** Validates a filled definition (the engine's validator, which resolves nested templates through this service). */
  validate: (definition: unknown) => ValidationResult;
  /** The clock of `updated_at` (default `Date.now`). */
  now?: () => number;
}

/** A template as `GET /sequence-templates` lists it. */
export interface TemplateSummary {
  name: string;
  version: number;
  updated_at: string;
  description: string | null;
  params: Record<string, ParamSpec>;
}

/** A filled, validated template ready to start, with the version it came from. */
export interface TemplateInstance {
  definition: SequenceDefinition;
  /** The template filled with the params, before validation filled in its defaults. */
  sent: unknown;
  template: { name: string; version: number };
}

/** A nested template call found in a definition. */
interface Reference {
  name: string;
  /** JSON path of the `template` field. */
  path: string;
}

export class TemplateService implements TemplateResolver {
  readonly #store: TemplateStore | null;
  /**
   * Every stored template, read once by `load()` and written through by `put` and `delete`:
   * validation resolves nested template calls synchronously, so it reads them here.
   */
  readonly #templates = new Map<string, StoredTemplate>();
  readonly #validate: (definition: unknown) => ValidationResult;
  readonly #now: () => number;

  constructor(options: TemplateServiceOptions) {
    this.#store = options.store;
    this.#validate = options.validate;
    this.#now = options.now ?? Date.now;
  }

  /** Reads every stored template; call once, before the service is used. */
  async load(): Promise<void> {
    if (!this.#store) return;
    this.#templates.clear();
    for (const stored of await this.#store.listTemplates()) this.#templates.set(stored.name, stored);
  }

  /** A stored template; 404/5611 when there is none. */
  get(name: string): StoredTemplate {
    const stored = this.#templates.get(name);
    if (!stored) throw new SequencerError(Codes.NOT_FOUND, `Template '${name}' not found`);
    return stored;
  }

  /** Every template, by name. */
  list(): TemplateSummary[] {
    return [...this.#templates.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((stored) => {
        const body = TemplateBodySchema.safeParse(stored.body);
        const description = body.success && typeof body.data.description === 'string' ? body.data.description : null;
        return {
          name: stored.name,
          version: stored.version,
          updated_at: new Date(stored.updated_at).toISOString(),
          description,
          params: body.success ? body.data.params : {},
        };
      });
  }

  /** Checks and stores a template (version 1, then one more on each PUT); 422 with every problem found. */
  async put(name: string, body: unknown): Promise<StoredTemplate> {
    if (!TemplateNameSchema.safeParse(name).success) {
      throw rejected(name, [{ path: 'name', code: Codes.INVALID_DEFINITION, message: 'Template names are 1..100 characters of A-Z a-z 0-9 _ . -' }]);
    }
    const parsed = TemplateBodySchema.safeParse(body);
    if (!parsed.success) {
      const details = parsed.error.issues.map((issue) => ({ path: formatPath(issue.path), code: Codes.INVALID_DEFINITION, message: issue.message }));
      throw rejected(name, details);
    }
    const template = parsed.data;
    const definition = definitionOf(template);
    const placeholders = findPlaceholders(definition);
    const references = referencesIn(definition, '');
    const errors: ErrorDetail[] = [];
    const cycle = this.#cycleFrom(name, references);
    if (cycle) errors.push({ path: cycle.path, code: Codes.CIRCULAR_REFERENCE, message: `Template '${name}' reaches itself: ${cycle.chain.join(' -> ')}` });
    for (const placeholder of placeholders) {
      if (Object.hasOwn(template.params, placeholder.name)) continue;
      errors.push({ path: placeholder.path, code: Codes.INVALID_DEFINITION, message: `Placeholder '{{${placeholder.name}}}' names no parameter of 'params'` });
    }
    for (const reference of references) {
      // A template named by a parameter could not be checked for cycles before it runs.
      if (reference.name.includes('{{')) errors.push({ path: reference.path, code: Codes.INVALID_DEFINITION, message: 'A nested template must be named literally, not by a parameter' });
    }
    if (errors.length === 0) {
      // Values are unknown until start: fill with defaults or stand-ins, and leave to the start what only the values decide.
      const result = this.#validate(substitute(definition, sampleValues(template.params)));
      if (!result.ok) errors.push(...result.errors.filter((error) => !placeholders.some((p) => covers(p.path, error.path))));
    }
    if (errors.length > 0) throw rejected(name, errors);
    const now = this.#now();
    // Without a store, versions behave as the store's: 1 when new (or deleted before), then one more per PUT.
    const stored = this.#store
      ? await this.#store.putTemplate(name, body, now)
      : { name, version: (this.#templates.get(name)?.version ?? 0) + 1, body: structuredClone(body), updated_at: now };
    this.#templates.set(name, stored);
    return stored;
  }

  /** Deletes a template; 404/5611 when there is none. Runs already started from it are not affected. */
  async delete(name: string): Promise<void> {
    const existed = this.#store ? await this.#store.deleteTemplate(name) : this.#templates.has(name);
    this.#templates.delete(name);
    if (!existed) throw new SequencerError(Codes.NOT_FOUND, `Template '${name}' not found`);
  }

  /** Fills a template with parameters and validates the result; 404/5611 or 422 (5600 for parameters) when it cannot start. */
  instantiate(name: string, params: unknown): TemplateInstance {
    const stored = this.get(name);
    const template = this.#parseStored(stored);
    const filled = fillTemplate(template, params);
    if ('errors' in filled) throw rejected(name, filled.errors);
    const result = this.#validate(filled.definition);
    if (!result.ok) throw rejected(name, blameParameters(result.errors, findPlaceholders(definitionOf(template))));
    return { definition: result.definition, sent: filled.definition, template: { name, version: stored.version } };
  }

  /** The engine's resolver: fills a nested call's template (paths are relative to the action). */
  resolve(name: string, params: unknown): { definition: unknown } | { errors: ErrorDetail[] } {
    const stored = this.#templates.get(name);
    if (!stored) return { errors: [{ path: 'template', code: Codes.INVALID_DEFINITION, message: `Template '${name}' not found` }] };
    const template = TemplateBodySchema.safeParse(stored.body);
    if (!template.success) return { errors: [{ path: 'template', code: Codes.INVALID_DEFINITION, message: `Template '${name}' is not a valid template` }] };
    const cycle = this.#cycleFrom(name, referencesIn(definitionOf(template.data), ''));
    if (cycle) return { errors: [{ path: 'template', code: Codes.CIRCULAR_REFERENCE, message: `Template '${name}' reaches itself: ${cycle.chain.join(' -> ')}` }] };
    return fillTemplate(template.data, params);
  }

  #parseStored(stored: StoredTemplate): TemplateBody {
    const template = TemplateBodySchema.safeParse(stored.body);
    if (!template.success) throw rejected(stored.name, [{ path: '', code: Codes.INVALID_DEFINITION, message: 'The stored template is not a valid template' }]);
    return template.data;
  }

  /**
   * The first chain of nested calls from `start`'s references back to `start` through the stored
   * templates (`A -> B -> A`), with the path of the reference that begins it; null when none.
   */
  #cycleFrom(start: string, references: Reference[]): { chain: string[]; path: string } | null {
    const searched = new Set<string>();
    const search = (name: string, chain: string[]): string[] | null => {
      if (name === start) return [...chain, name];
      if (searched.has(name)) return null;
      searched.add(name);
      const stored = this.#templates.get(name);
      if (!stored) return null;
      for (const reference of referencesIn(stored.body, '')) {
        const found = search(reference.name, [...chain, name]);
        if (found) return found;
      }
      return null;
    };
    for (const reference of references) {
      const chain = search(reference.name, [start]);
      if (chain) return { chain, path: reference.path };
    }
    return null;
  }
}

/** Every nested template call in a definition (inline nested sequences searched too). */
function referencesIn(definition: unknown, prefix: string): Reference[] {
  const found: Reference[] = [];
  if (!isRecord(definition)) return found;
  for (const list of ['steps', 'cleanup_steps'] as const) {
    const steps = definition[list];
    if (!Array.isArray(steps)) continue;
    steps.forEach((step: unknown, index) => {
      const action = isRecord(step) ? step.action : undefined;
      if (!isRecord(action) || action.type !== 'sequence') return;
      const path = `${prefix === '' ? '' : `${prefix}.`}${list}[${index}].action`;
      if (typeof action.template === 'string') found.push({ name: action.template, path: `${path}.template` });
      else found.push(...referencesIn(action, path));
    });
  }
  return found;
}

/** Whether an error at `path` concerns the field at `field` or something inside it. */
function covers(field: string, path: string): boolean {
  return path === field || path.startsWith(`${field}.`) || path.startsWith(`${field}[`);
}

/** Names the parameter that filled a field a validation error is about. */
function blameParameters(errors: ErrorDetail[], placeholders: Placeholder[]): ErrorDetail[] {
  return errors.map((error) => {
    const source = placeholders.find((p) => covers(p.path, error.path));
    return source ? { ...error, message: `${error.message} (from parameter '${source.name}')` } : error;
  });
}

/** A 422 listing every problem; the code is 5618 when a template reaches itself, else the first problem's. */
function rejected(name: string, details: ErrorDetail[]): SequencerError {
  const first = details.find((d) => d.code === Codes.CIRCULAR_REFERENCE) ?? details[0];
  const code = first?.code ?? Codes.INVALID_DEFINITION;
  const where = first?.path ? ` (${first.path})` : '';
  return new SequencerError(code, `Invalid template '${name}': ${first?.message ?? 'invalid'}${where}`, details, 422);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
