/**
 * zod schemas of sequence templates (SPEC 7): a template body is a sequence definition whose string
 * fields may hold `{{param}}` placeholders, plus a `params` schema naming each parameter's type,
 * whether it is required, its default and its bounds. The definition part is checked by filling it
 * and validating the result (see `template-service.ts`), so this schema lets it pass through.
 */
import { z } from 'zod';
import { RunContextSchema } from '../domain/definition.schema.ts';

/** A template name: 1..100 characters of `[A-Za-z0-9_.-]` (safe in a URL path segment). */
export const TemplateNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,100}$/, 'Template names are 1..100 characters of A-Z a-z 0-9 _ . -');

/** A parameter name, as placeholders spell it: `{{zone_id}}`. */
export const ParamNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'Parameter names start with a letter or _ and hold letters, digits and _ (max 64)');

/** The types a parameter can have. */
export const ParamTypeSchema = z.enum(['string', 'number', 'integer', 'boolean']);
export type ParamType = z.infer<typeof ParamTypeSchema>;

/** A parameter's value once filled in. */
export type ParamValue = string | number | boolean;

/** Whether a value has a parameter type (`integer` is a whole `number`). */
export function hasParamType(value: unknown, type: ParamType): value is ParamValue {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return Number.isInteger(value);
  }
}

/**
 * One parameter. `min`/`max` bound a number's value and a string's length; booleans take none.
 * `required` defaults to false: an optional parameter without a value and without a default
 * leaves out the field it fills alone, and is empty inside a longer string.
 */
export const ParamSpecSchema = z
  .strictObject({
    type: ParamTypeSchema,
    required: z.boolean().default(false),
    default: z.union([z.string(), z.number(), z.boolean()]).optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    description: z.string().max(500).optional(),
  })
  .superRefine((spec, ctx) => {
    if (spec.type === 'boolean' && (spec.min !== undefined || spec.max !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['min'], message: 'A boolean parameter takes no min or max' });
    }
    if (spec.min !== undefined && spec.max !== undefined && spec.min > spec.max) {
      ctx.addIssue({ code: 'custom', path: ['min'], message: `min (${spec.min}) is above max (${spec.max})` });
    }
    if (spec.default === undefined) return;
    if (!hasParamType(spec.default, spec.type)) {
      ctx.addIssue({ code: 'custom', path: ['default'], message: `The default must be of type ${spec.type}` });
      return;
    }
    const problem = boundsProblem(spec, spec.default);
    if (problem) ctx.addIssue({ code: 'custom', path: ['default'], message: `The default ${problem}` });
  });
export type ParamSpec = z.infer<typeof ParamSpecSchema>;

/** What is wrong with a typed value against a parameter's min/max, or null when it fits. */
export function boundsProblem(spec: Pick<ParamSpec, 'min' | 'max'>, value: ParamValue): string | null {
  if (typeof value === 'boolean') return null;
  const measure = typeof value === 'string' ? value.length : value;
  const bound = (n: number) => (typeof value === 'string' ? `${n} character${n === 1 ? '' : 's'} long` : `${n}`);
  if (spec.min !== undefined && measure < spec.min) return `must be at least ${bound(spec.min)}, got ${JSON.stringify(value)}`;
  if (spec.max !== undefined && measure > spec.max) return `must be at most ${bound(spec.max)}, got ${JSON.stringify(value)}`;
  return null;
}

/**
 * A template body as `PUT /sequence-templates/{name}` takes it: the parameter schema plus the
 * definition fields, which may hold placeholders and are checked once filled.
 */
export const TemplateBodySchema = z.looseObject({
  params: z.record(ParamNameSchema, ParamSpecSchema).default({}),
});
export type TemplateBody = z.infer<typeof TemplateBodySchema>;

/** The body of `POST /sequence-templates/{name}/start`. */
export const TemplateStartSchema = z.strictObject({
  params: z.record(z.string(), z.unknown()).default({}),
  context: RunContextSchema.optional(),
});

/** The route parameter `{name}`. */
export const TemplateNameParamsSchema = z.strictObject({ name: TemplateNameSchema });
