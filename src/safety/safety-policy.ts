/**
 * The safety policy of SPEC sections 10 and 12: the `safety` block of the `--config` file restricts,
 * per actuator or per ESP, the commands allowed, the PWM range and the longest ON time. A command
 * outside fails its step with 5642 and a message naming the rule. Lookups are two map reads.
 */
import { z } from 'zod';
import { Codes, SequencerError, type ErrorDetail } from '../domain/errors.ts';
import type { ActuatorCommand, ActuatorCommandName } from '../drivers/actuator-driver.ts';

const COMMANDS = ['ON', 'OFF', 'PWM', 'TOGGLE'] as const satisfies readonly ActuatorCommandName[];

/** `ESP_ID:<gpio 0..39>` or `ESP_ID:*`; the ESP id holds no colon and no whitespace. */
const MATCH = /^([^:\s]+):(\*|[0-9]|[1-3][0-9])$/;

/** One rule of `safety.actuators`. */
export const ActuatorRuleSchema = z
  .strictObject({
    /** `"ESP_12AB34CD:5"` for one actuator, `"ESP_12AB34CD:*"` for every actuator of the ESP. */
    match: z.string().regex(MATCH, { error: 'must be "<esp_id>:<gpio 0..39>" or "<esp_id>:*"' }),
    /** Commands allowed besides OFF, which is never blocked. Absent: every command. */
    allow: z.array(z.enum(COMMANDS)).optional(),
    /** Lowest PWM duty allowed (PWM commands only). */
    pwm_min: z.number().min(0).max(1).optional(),
    /** Highest PWM duty allowed (PWM commands only). */
    pwm_max: z.number().min(0).max(1).optional(),
    /** Longest `duration_seconds` of an ON / PWM / TOGGLE; see {@link SafetyPolicy.maxOnSeconds} for 0. */
    max_on_seconds: z.number().positive().optional(),
  })
  .refine((rule) => rule.pwm_min === undefined || rule.pwm_max === undefined || rule.pwm_min <= rule.pwm_max, {
    error: 'pwm_min must not be above pwm_max',
    path: ['pwm_min'],
  });

/** The `safety` block of the config file. Unknown keys are rejected; `actuators` defaults to none. */
export const SafetyPolicySchema = z
  .strictObject({
    actuators: z.array(ActuatorRuleSchema).default([]),
    /**
     * Time budget of every safe-state OFF (and of the emergency stop's), whatever the step
     * timeouts say (SPEC 10); absent: 2 s.
     */
    safe_state_timeout_seconds: z.number().positive().max(60).optional(),
  })
  .superRefine((policy, ctx) => {
    const first = new Map<string, number>();
    policy.actuators.forEach((rule, i) => {
      const at = first.get(rule.match);
      if (at === undefined) first.set(rule.match, i);
      else ctx.addIssue({ code: 'custom', path: ['actuators', i, 'match'], message: `duplicate of actuators[${at}]` });
    });
  });

/** One validated rule. */
export type ActuatorRule = z.infer<typeof ActuatorRuleSchema>;
/** The validated `safety` block. */
export type SafetyPolicyConfig = z.infer<typeof SafetyPolicySchema>;
/** The fields of a command the policy looks at. */
export type PolicyCommand = Pick<ActuatorCommand, 'esp_id' | 'gpio' | 'command' | 'value' | 'duration_seconds'>;

/** Why a command was blocked: always 5642, with the rule's `match` and a message naming it. */
export interface SafetyViolation {
  readonly code: typeof Codes.SAFETY_BLOCKED;
  readonly rule: string;
  readonly message: string;
}

interface CompiledRule {
  readonly match: string;
  /** null: every command allowed. Always contains OFF otherwise. */
  readonly allow: ReadonlySet<ActuatorCommandName> | null;
  readonly allowText: string;
  readonly pwmMin: number | undefined;
  readonly pwmMax: number | undefined;
  readonly maxOnSeconds: number | undefined;
}

/**
 * A compiled safety policy. Rules decide as follows:
 * - The rule for `esp:gpio` is used if there is one, else the rule for `esp:*`; they never merge,
 *   so an exact rule can loosen its ESP's wildcard. No rule: everything allowed.
 * - OFF is never blocked: it is the safe direction, and safe state and emergency stop depend on it.
 * - `allow` lists the other commands allowed; `pwm_min` / `pwm_max` bound the value of PWM only
 *   (ON means full duty by definition; cap it by leaving ON out of `allow`).
 * - `max_on_seconds` blocks an ON / PWM / TOGGLE whose `duration_seconds` is above it. A duration of
 *   0 ("until told otherwise") is allowed, because a sequence that turns a pump ON and later OFF must
 *   work; the caller enforces the limit instead by sending `maxOnSeconds()` as the duration, so the
 *   device itself switches off even if the server dies.
 */
export class SafetyPolicy {
  private readonly exact = new Map<string, CompiledRule>();
  private readonly wildcard = new Map<string, CompiledRule>();

  /** Compiles a validated `safety` block (see {@link parsePolicy} for unvalidated JSON). */
  constructor(config: SafetyPolicyConfig = { actuators: [] }) {
    for (const rule of config.actuators) {
      const [, espId, gpio] = MATCH.exec(rule.match) as RegExpExecArray;
      const compiled = compile(rule);
      if (gpio === '*') this.wildcard.set(espId, compiled);
      else this.exact.set(`${espId}:${Number(gpio)}`, compiled);
    }
  }

  /** Number of rules. */
  get size(): number {
    return this.exact.size + this.wildcard.size;
  }

  /** null when the command may be sent; otherwise the 5642 violation naming the rule that blocks it. */
  check(cmd: PolicyCommand): SafetyViolation | null {
    const rule = this.ruleFor(cmd.esp_id, cmd.gpio);
    if (!rule || cmd.command === 'OFF') return null;
    if (rule.allow && !rule.allow.has(cmd.command)) {
      return violation(rule, `command ${cmd.command} not allowed (allowed: ${rule.allowText})`);
    }
    if (cmd.command === 'PWM' && rule.pwmMin !== undefined && cmd.value < rule.pwmMin) {
      return violation(rule, `PWM value ${cmd.value} below pwm_min ${rule.pwmMin}`);
    }
    if (cmd.command === 'PWM' && rule.pwmMax !== undefined && cmd.value > rule.pwmMax) {
      return violation(rule, `PWM value ${cmd.value} above pwm_max ${rule.pwmMax}`);
    }
    if (rule.maxOnSeconds !== undefined && cmd.duration_seconds > rule.maxOnSeconds) {
      return violation(rule, `duration_seconds ${cmd.duration_seconds} above max_on_seconds ${rule.maxOnSeconds}`);
    }
    return null;
  }

  /** The `max_on_seconds` that applies to the actuator, or null when none does. */
  maxOnSeconds(espId: string, gpio: number): number | null {
    return this.ruleFor(espId, gpio)?.maxOnSeconds ?? null;
  }

  private ruleFor(espId: string, gpio: number): CompiledRule | undefined {
    return this.exact.get(`${espId}:${gpio}`) ?? this.wildcard.get(espId);
  }
}

function compile(rule: ActuatorRule): CompiledRule {
  const allow = rule.allow ? new Set<ActuatorCommandName>([...rule.allow, 'OFF']) : null;
  return {
    match: rule.match,
    allow,
    allowText: allow ? COMMANDS.filter((c) => allow.has(c)).join(', ') : COMMANDS.join(', '),
    pwmMin: rule.pwm_min,
    pwmMax: rule.pwm_max,
    maxOnSeconds: rule.max_on_seconds,
  };
}

function violation(rule: CompiledRule, reason: string): SafetyViolation {
  return { code: Codes.SAFETY_BLOCKED, rule: rule.match, message: `safety rule "${rule.match}": ${reason}` };
}

/**
 * Validates the `safety` block and compiles it. Throws `SequencerError(5600)` with one detail per
 * bad field, located as `<basePath>.actuators[0].pwm_max` (unknown keys by their own path).
 */
export function parsePolicy(json: unknown, basePath = 'safety'): SafetyPolicy {
  const result = SafetyPolicySchema.safeParse(json);
  if (result.success) return new SafetyPolicy(result.data);
  const details: ErrorDetail[] = result.error.issues.flatMap((issue) => {
    const at = formatPath(basePath, issue.path);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: formatPath(at, [key]), code: Codes.INVALID_DEFINITION, message: 'unknown key' }));
    }
    return [{ path: at, code: Codes.INVALID_DEFINITION, message: issue.message }];
  });
  const summary = details.map((d) => `${d.path}: ${d.message}`).join('; ');
  throw new SequencerError(Codes.INVALID_DEFINITION, `Invalid safety policy: ${summary}`, details);
}

function formatPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}
