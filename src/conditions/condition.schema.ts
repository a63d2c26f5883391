/**
 * The condition of SPEC 2.1, as zod schemas: a sensor threshold, a signal, or `all` / `any` / `not`
 * of conditions (at most 3 levels of them, at most 10 leaves). Conditions guard `when`, `wait_for`
 * and `repeat.until`. Every problem becomes a 5620 issue at its own JSON path
 * (`steps[2].wait_for.condition.all[1].sensor.gpio`), so an operator sees exactly what to fix.
 */
import { z } from 'zod';

/** Most `all` / `any` / `not` nested in one condition. */
export const MAX_CONDITION_LEVELS = 3;
/** Most sensor and signal leaves in one condition. */
export const MAX_CONDITION_LEAVES = 10;
/** The 56xx code of every problem with a condition. */
export const INVALID_CONDITION = 5620;

/** A signal's name (SPEC 7 `POST /sequences/{id}/signal`). */
export const SignalNameSchema = z.string().min(1).max(64);

/** A sensor as SPEC 9.1 addresses it: the node and the pin. */
export const SensorRefSchema = z.strictObject({
  // One MQTT topic level, as the driver's esp_ids are.
  esp_id: z.string().min(1).max(64).regex(/^[^/+#]+$/, "an esp_id is one topic level: no '/', '+' or '#'"),
  gpio: z.number().int().min(0).max(255),
});
export type SensorRef = z.infer<typeof SensorRefSchema>;

/** The comparisons a sensor condition may make; exactly one per condition. */
export const SENSOR_OPERATORS = ['above', 'below', 'at_least', 'at_most', 'equals', 'between'] as const;

/** A threshold on the latest reading of one sensor. */
export const SensorConditionSchema = z
  .strictObject({
    sensor: SensorRefSchema,
    above: z.number().optional(),
    below: z.number().optional(),
    at_least: z.number().optional(),
    at_most: z.number().optional(),
    equals: z.number().optional(),
    between: z
      .tuple([z.number(), z.number()])
      .refine(([low, high]) => low <= high, 'between is [low, high] with low <= high')
      .optional(),
    max_age_seconds: z.number().positive().max(86_400).optional().describe('Default 120: an older reading (or none, or quality bad / stale) is unknown'),
  })
  .superRefine((condition, ctx) => {
    const given = SENSOR_OPERATORS.filter((op) => condition[op] !== undefined);
    if (given.length === 1) return;
    ctx.addIssue({
      code: 'custom',
      message: given.length === 0 ? `a sensor condition needs one of ${SENSOR_OPERATORS.join(', ')}` : `only one comparison per sensor condition (got ${given.join(', ')})`,
    });
  });
export type SensorCondition = z.infer<typeof SensorConditionSchema>;

/** True once the run has received the signal. */
export const SignalConditionSchema = z.strictObject({ signal: SignalNameSchema });
export type SignalCondition = z.infer<typeof SignalConditionSchema>;

/** A condition (SPEC 2.1). */
export type Condition = SensorCondition | SignalCondition | { all: Condition[] } | { any: Condition[] } | { not: Condition };

const KINDS = ['sensor', 'signal', 'all', 'any', 'not'] as const;
type Kind = (typeof KINDS)[number];

type Path = (string | number)[];

interface Walk {
  leaves: number;
  issues: { path: Path; message: string }[];
}

/** Checks one node of a condition at `path`, `level` combinators deep; records issues in `walk`. */
function parseNode(value: unknown, path: Path, level: number, walk: Walk): Condition | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    walk.issues.push({ path, message: `a condition is an object with one of ${KINDS.join(', ')}` });
    return undefined;
  }
  const kinds = KINDS.filter((kind) => kind in value);
  const kind = kinds[0] as Kind | undefined;
  if (kind === undefined || kinds.length > 1) {
    const why = kinds.length > 1 ? `one kind per condition (got ${kinds.join(' and ')})` : `a condition needs one of ${KINDS.join(', ')}`;
    walk.issues.push({ path, message: why });
    return undefined;
  }
  if (kind === 'sensor' || kind === 'signal') return parseLeaf(kind, value, path, walk);
  if (level >= MAX_CONDITION_LEVELS) {
    walk.issues.push({ path, message: `conditions nest at most ${MAX_CONDITION_LEVELS} levels of all / any / not` });
    return undefined;
  }
  const extra = Object.keys(value).filter((key) => key !== kind);
  for (const key of extra) walk.issues.push({ path: [...path, key], message: 'unknown key' });
  const inner = (value as Record<string, unknown>)[kind];
  if (kind === 'not') {
    const child = parseNode(inner, [...path, 'not'], level + 1, walk);
    return child && extra.length === 0 ? { not: child } : undefined;
  }
  if (!Array.isArray(inner) || inner.length === 0) {
    walk.issues.push({ path: [...path, kind], message: `${kind} is a list of at least one condition` });
    return undefined;
  }
  const children = inner.map((child, index) => parseNode(child, [...path, kind, index], level + 1, walk));
  if (extra.length > 0 || children.some((child) => child === undefined)) return undefined;
  return (kind === 'all' ? { all: children } : { any: children }) as Condition;
}

function parseLeaf(kind: 'sensor' | 'signal', value: object, path: Path, walk: Walk): Condition | undefined {
  walk.leaves += 1;
  if (walk.leaves === MAX_CONDITION_LEAVES + 1) {
    walk.issues.push({ path, message: `a condition has at most ${MAX_CONDITION_LEAVES} sensor and signal leaves` });
  }
  const parsed = (kind === 'sensor' ? SensorConditionSchema : SignalConditionSchema).safeParse(value);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    const at = [...path, ...(issue.path as Path)];
    if (issue.code === 'unrecognized_keys') for (const key of issue.keys) walk.issues.push({ path: [...at, key], message: 'unknown key' });
    else walk.issues.push({ path: at, message: issue.message });
  }
  return undefined;
}

/**
 * A condition as a step field: checked node by node, so each problem is reported once at its own
 * path with code 5620 (a plain union would report every branch's mismatch at the root). It keeps
 * the value as given (a refinement, not a transform, so the documents generated from the schemas
 * keep their examples); `max_age_seconds` left out means 120 s where it is read.
 */
export const ConditionSchema = (
  z.unknown().superRefine((value, ctx) => {
    const walk: Walk = { leaves: 0, issues: [] };
    parseNode(value, [], 0, walk);
    for (const issue of walk.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path, params: { code: INVALID_CONDITION } });
  }) as unknown as z.ZodType<Condition>
).meta({
  title: 'condition',
  description:
    'A sensor threshold `{sensor: {esp_id, gpio}, above | below | at_least | at_most | equals | between: [lo, hi], max_age_seconds}`, ' +
    '`{signal: name}`, or `{all: [...]}` / `{any: [...]}` / `{not: {...}}` (at most 3 levels, 10 leaves). An unknown reading never satisfies it.',
  examples: [{ sensor: { esp_id: 'ESP_12AB34CD', gpio: 34 }, above: 40, max_age_seconds: 120 }, { any: [{ signal: 'tank_full' }, { not: { sensor: { esp_id: 'ESP_12AB34CD', gpio: 35 }, below: 5 } }] }],
});

/** The age after which a reading is unknown, when a sensor condition does not say (SPEC 2.1). */
export const DEFAULT_MAX_AGE_SECONDS = 120;

/** The sensors a condition reads (each once), for the index of waiting runs by sensor. */
export function sensorsOf(condition: Condition, out: SensorRef[] = []): SensorRef[] {
  if ('sensor' in condition) {
    if (!out.some((s) => s.esp_id === condition.sensor.esp_id && s.gpio === condition.sensor.gpio)) out.push(condition.sensor);
  } else if ('all' in condition) for (const c of condition.all) sensorsOf(c, out);
  else if ('any' in condition) for (const c of condition.any) sensorsOf(c, out);
  else if ('not' in condition) sensorsOf(condition.not, out);
  return out;
}

/** Whether a condition reads any signal. */
export function readsSignals(condition: Condition): boolean {
  if ('signal' in condition) return true;
  if ('all' in condition) return condition.all.some(readsSignals);
  if ('any' in condition) return condition.any.some(readsSignals);
  if ('not' in condition) return readsSignals(condition.not);
  return false;
}
