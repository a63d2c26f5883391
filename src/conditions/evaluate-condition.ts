/**
 * Evaluates a condition (SPEC 2.1) against the latest sensor readings and a run's signals, in
 * three-valued logic: a reading that is missing, older than `max_age_seconds`, or of quality `bad`
 * or `stale` is unknown, and unknown never satisfies a condition (`not` of unknown is unknown).
 *
 * Besides the truth, it says until when that truth stands if no reading arrives: readings only
 * ever age into unknown, and in this logic losing a value can turn true or false into unknown but
 * never unknown into either, so a true result stays true exactly until its support ages out. The
 * sequence machine keeps that time, so a wait that held on a reading which then went silent stops
 * holding on time without a timer per sensor.
 */
import { isoTime } from '../domain/iso-time.ts';
import { DEFAULT_MAX_AGE_SECONDS, type Condition, type SensorCondition } from './condition.schema.ts';

/** One sensor's latest reading (SPEC 7 `GET /sensors`), `at` in Unix ms. */
export interface Reading {
  esp_id: string;
  gpio: number;
  value: number;
  unit: string | null;
  quality: string | null;
  at: number;
}

/** Where readings come from. */
export interface ReadingLookup {
  /** The latest reading of a sensor, if any. */
  reading(espId: string, gpio: number): Reading | undefined;
}

/** What a condition is evaluated with. */
export interface ConditionInputs {
  readings: ReadingLookup;
  /** Whether the run has received the signal. */
  hasSignal(name: string): boolean;
  /** Unix ms. */
  now: number;
}

/** Three-valued truth. */
export type Truth = 'true' | 'false' | 'unknown';

/** The outcome of one evaluation. */
export interface Evaluation {
  truth: Truth;
  /** Unix ms at which this truth may turn unknown as readings age; null: not by ageing. */
  until: number | null;
  /** In words, naming the values read (`ESP_12AB34CD:34 = 41.2 % at 12:03:05`). */
  message: string;
}

/** Qualities that make a reading unknown (SPEC 2.1). */
const UNUSABLE_QUALITY = new Set(['bad', 'stale']);

/** Evaluates `condition` at `inputs.now`. */
export function evaluateCondition(condition: Condition, inputs: ConditionInputs): Evaluation {
  if ('sensor' in condition) return evaluateSensor(condition, inputs);
  if ('signal' in condition) {
    const got = inputs.hasSignal(condition.signal);
    return { truth: got ? 'true' : 'false', until: null, message: got ? `signal ${condition.signal} received` : `signal ${condition.signal} not received` };
  }
  if ('not' in condition) {
    const inner = evaluateCondition(condition.not, inputs);
    const truth: Truth = inner.truth === 'unknown' ? 'unknown' : inner.truth === 'true' ? 'false' : 'true';
    return { truth, until: inner.until, message: `not (${inner.message})` };
  }
  const all = 'all' in condition;
  const parts = (all ? condition.all : condition.any).map((child) => evaluateCondition(child, inputs));
  // `all` is decided by a false part, `any` by a true one; without one, unknown parts leave it unknown.
  const deciding: Truth = all ? 'false' : 'true';
  const decided = parts.filter((part) => part.truth === deciding);
  if (decided.length > 0) {
    // It stands while one deciding part still does: until the last of them ages out.
    return { truth: deciding, until: latest(decided), message: decided.map((part) => part.message).join(all ? '; ' : ' or ') };
  }
  if (parts.some((part) => part.truth === 'unknown')) {
    return { truth: 'unknown', until: null, message: parts.filter((part) => part.truth === 'unknown').map((part) => part.message).join('; ') };
  }
  // Every part agrees: it stands until the first of them ages out.
  const truth: Truth = all ? 'true' : 'false';
  return { truth, until: earliest(parts), message: parts.map((part) => part.message).join(all ? ' and ' : '; ') };
}

function evaluateSensor(condition: SensorCondition, { readings, now }: ConditionInputs): Evaluation {
  const { esp_id, gpio } = condition.sensor;
  const name = `${esp_id}:${gpio}`;
  const reading = readings.reading(esp_id, gpio);
  if (!reading) return { truth: 'unknown', until: null, message: `${name} has no reading` };
  const maxAgeSeconds = condition.max_age_seconds ?? DEFAULT_MAX_AGE_SECONDS;
  const maxAgeMs = maxAgeSeconds * 1000;
  const shown = `${name} = ${formatValue(reading)} at ${clockOf(reading.at)}`;
  if (reading.quality !== null && UNUSABLE_QUALITY.has(reading.quality)) {
    return { truth: 'unknown', until: null, message: `${shown} has quality ${reading.quality}` };
  }
  if (now - reading.at >= maxAgeMs) {
    return { truth: 'unknown', until: null, message: `${shown} is older than ${maxAgeSeconds} s` };
  }
  const holds = compare(condition, reading.value);
  return { truth: holds ? 'true' : 'false', until: reading.at + maxAgeMs, message: holds ? shown : `${shown}, not ${describeComparison(condition)}` };
}

function compare(condition: SensorCondition, value: number): boolean {
  if (condition.above !== undefined) return value > condition.above;
  if (condition.below !== undefined) return value < condition.below;
  if (condition.at_least !== undefined) return value >= condition.at_least;
  if (condition.at_most !== undefined) return value <= condition.at_most;
  if (condition.equals !== undefined) return value === condition.equals;
  const [low, high] = condition.between as [number, number];
  return value >= low && value <= high;
}

/** The comparison of a sensor condition in words (`above 40`). */
export function describeComparison(condition: SensorCondition): string {
  if (condition.above !== undefined) return `above ${condition.above}`;
  if (condition.below !== undefined) return `below ${condition.below}`;
  if (condition.at_least !== undefined) return `at least ${condition.at_least}`;
  if (condition.at_most !== undefined) return `at most ${condition.at_most}`;
  if (condition.equals !== undefined) return `equal to ${condition.equals}`;
  const [low, high] = condition.between as [number, number];
  return `between ${low} and ${high}`;
}

/** A condition in words, for the event of a step that starts waiting on it. */
export function describeCondition(condition: Condition): string {
  if ('sensor' in condition) return `${condition.sensor.esp_id}:${condition.sensor.gpio} ${describeComparison(condition)}`;
  if ('signal' in condition) return `signal ${condition.signal}`;
  if ('not' in condition) return `not (${describeCondition(condition.not)})`;
  if ('all' in condition) return condition.all.map(describeCondition).join(' and ');
  return condition.any.map(describeCondition).join(' or ');
}

function formatValue(reading: Reading): string {
  return reading.unit ? `${reading.value} ${reading.unit}` : String(reading.value);
}

/** `12:03:05` (UTC) of a Unix ms time (a reading wakes every run waiting on its sensor: `isoTime` keeps the second). */
function clockOf(ms: number): string {
  return isoTime(ms).slice(11, 19);
}

function latest(parts: Evaluation[]): number | null {
  let at = -Infinity;
  for (const part of parts) {
    if (part.until === null) return null;
    at = Math.max(at, part.until);
  }
  return at;
}

function earliest(parts: Evaluation[]): number | null {
  let at: number | null = null;
  for (const part of parts) if (part.until !== null && (at === null || part.until < at)) at = part.until;
  return at;
}
