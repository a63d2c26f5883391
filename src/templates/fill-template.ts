/**
 * Fills a template's `{{param}}` placeholders with checked parameter values. A string that is
 * exactly one placeholder takes the parameter's typed value (a number stays a number, so
 * `"gpio": "{{gpio}}"` becomes `"gpio": 5`); placeholders inside a longer string are stringified.
 * Every problem with the parameters is reported at once, each at `params.<name>` with code 5600.
 */
import { Codes, type ErrorDetail } from '../domain/errors.ts';
import { formatPath } from '../domain/validate-definition.ts';
import { boundsProblem, hasParamType, type ParamSpec, type ParamValue, type TemplateBody } from './template.schema.ts';

/** One placeholder in a template: where it is, which parameter it names, and whether it is the whole string. */
export interface Placeholder {
  path: string;
  name: string;
  whole: boolean;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const WHOLE = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/;

/** The definition part of a template body: everything but its `params` schema. */
export function definitionOf(body: TemplateBody): Record<string, unknown> {
  const { params: _params, ...definition } = body;
  return definition;
}

/** Every placeholder in a definition, with its JSON path (`steps[0].action.gpio`). */
export function findPlaceholders(definition: unknown): Placeholder[] {
  const found: Placeholder[] = [];
  walk(definition, [], (value, path) => {
    const whole = WHOLE.exec(value);
    if (whole) {
      found.push({ path: formatPath(path), name: whole[1] as string, whole: true });
      return;
    }
    for (const match of value.matchAll(PLACEHOLDER)) found.push({ path: formatPath(path), name: match[1] as string, whole: false });
  });
  return found;
}

/**
 * Checks supplied parameters against the schema and applies defaults. Unknown, missing required,
 * ill-typed and out-of-bounds parameters are errors at `params.<name>`.
 */
export function checkParams(
  spec: Readonly<Record<string, ParamSpec>>,
  supplied: unknown,
): { values: Map<string, ParamValue> } | { errors: ErrorDetail[] } {
  if (supplied === null || typeof supplied !== 'object' || Array.isArray(supplied)) {
    return { errors: [problem('params', 'Parameters must be an object of name to value')] };
  }
  const given = supplied as Record<string, unknown>;
  const errors: ErrorDetail[] = [];
  const values = new Map<string, ParamValue>();
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(spec, name)) errors.push(problem(`params.${name}`, `Unknown parameter '${name}'`));
  }
  for (const [name, param] of Object.entries(spec)) {
    const value = given[name] === undefined ? param.default : given[name];
    if (value === undefined) {
      if (param.required) errors.push(problem(`params.${name}`, `Missing required parameter '${name}' (${param.type})`));
      continue;
    }
    if (!hasParamType(value, param.type)) {
      errors.push(problem(`params.${name}`, `Parameter '${name}' must be ${article(param.type)}, got ${describe(value)}`));
      continue;
    }
    const outOfBounds = boundsProblem(param, value);
    if (outOfBounds) {
      errors.push(problem(`params.${name}`, `Parameter '${name}' ${outOfBounds}`));
      continue;
    }
    values.set(name, value);
  }
  return errors.length > 0 ? { errors } : { values };
}

/**
 * Replaces every placeholder. A whole-string placeholder whose parameter has no value leaves out
 * its object field (or array element); inside a longer string it becomes empty.
 */
export function substitute(definition: unknown, values: ReadonlyMap<string, ParamValue>): unknown {
  if (typeof definition === 'string') {
    const whole = WHOLE.exec(definition);
    if (whole) return values.get(whole[1] as string);
    return definition.replace(PLACEHOLDER, (_match, name: string) => {
      const value = values.get(name);
      return value === undefined ? '' : String(value);
    });
  }
  if (Array.isArray(definition)) {
    return definition.map((item) => substitute(item, values)).filter((item) => item !== undefined);
  }
  if (definition !== null && typeof definition === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(definition)) {
      const filled = substitute(value, values);
      if (filled !== undefined) out[key] = filled;
    }
    return out;
  }
  return definition;
}

/** Fills a template body with parameters: the definition to validate, or every parameter problem. */
export function fillTemplate(body: TemplateBody, supplied: unknown): { definition: unknown } | { errors: ErrorDetail[] } {
  const checked = checkParams(body.params, supplied);
  if ('errors' in checked) return checked;
  return { definition: substitute(definitionOf(body), checked.values) };
}

/**
 * Stand-in values for a template checked before it is used (at PUT): each parameter's default,
 * else a value of its type inside its bounds.
 */
export function sampleValues(spec: Readonly<Record<string, ParamSpec>>): Map<string, ParamValue> {
  const values = new Map<string, ParamValue>();
  for (const [name, param] of Object.entries(spec)) values.set(name, param.default ?? sampleOf(param));
  return values;
}

function sampleOf(param: ParamSpec): ParamValue {
  switch (param.type) {
    case 'boolean':
      return false;
    case 'string':
      return 'x'.repeat(clamp(1, param.min === undefined ? undefined : Math.ceil(param.min), param.max));
    case 'integer':
      return clamp(0, param.min === undefined ? undefined : Math.ceil(param.min), param.max === undefined ? undefined : Math.floor(param.max));
    case 'number':
      return clamp(0, param.min, param.max);
  }
}

function clamp(value: number, min: number | undefined, max: number | undefined): number {
  if (min !== undefined && value < min) return min;
  if (max !== undefined && value > max) return max;
  return value;
}

function walk(value: unknown, path: PropertyKey[], visit: (value: string, path: PropertyKey[]) => void): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((item, index) => walk(item, [...path, index], visit));
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) walk(item, [...path, key], visit);
  }
}

function problem(path: string, message: string): ErrorDetail {
  return { path, code: Codes.INVALID_DEFINITION, message };
}

function article(type: string): string {
  return type === 'integer' ? 'an integer' : `a ${type}`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return `${typeof value} ${JSON.stringify(value)}`;
}
