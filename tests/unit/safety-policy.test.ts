import { describe, expect, it } from 'vitest';
import { Codes, SequencerError } from '../../src/domain/errors.ts';
import { SafetyPolicy, SafetyPolicySchema, parsePolicy, type PolicyCommand } from '../../src/safety/safety-policy.ts';

const cmd = (over: Partial<PolicyCommand> = {}): PolicyCommand => ({
  esp_id: 'ESP_1',
  gpio: 5,
  command: 'ON',
  value: 1,
  duration_seconds: 0,
  ...over,
});

function parseError(json: unknown): SequencerError {
  try {
    parsePolicy(json);
  } catch (error) {
    return error as SequencerError;
  }
  throw new Error('expected parsePolicy to throw');
}

describe('SafetyPolicy', () => {
  it('allows everything when there is no rule for the actuator', () => {
    const policy = parsePolicy({ actuators: [{ match: 'ESP_1:5', allow: ['OFF'] }] });
    expect(policy.check(cmd({ gpio: 6, command: 'PWM', value: 1 }))).toBeNull();
    expect(policy.check(cmd({ esp_id: 'ESP_2' }))).toBeNull();
    expect(new SafetyPolicy().check(cmd())).toBeNull();
  });

  it('blocks a command not in allow and names the rule and the allowed ones', () => {
    const policy = parsePolicy({ actuators: [{ match: 'ESP_1:5', allow: ['ON', 'OFF'] }] });
    expect(policy.check(cmd({ command: 'PWM', value: 0.5 }))).toEqual({
      code: Codes.SAFETY_BLOCKED,
      rule: 'ESP_1:5',
      message: 'safety rule "ESP_1:5": command PWM not allowed (allowed: ON, OFF)',
    });
    expect(policy.check(cmd({ command: 'ON' }))).toBeNull();
  });

  it('never blocks OFF, even when allow leaves it out', () => {
    const policy = parsePolicy({ actuators: [{ match: 'ESP_1:*', allow: ['PWM'], max_on_seconds: 1 }] });
    expect(policy.check(cmd({ command: 'OFF', value: 0, duration_seconds: 99 }))).toBeNull();
    expect(policy.check(cmd({ command: 'ON' }))?.message).toBe(
      'safety rule "ESP_1:*": command ON not allowed (allowed: OFF, PWM)',
    );
  });

  it('bounds PWM values by pwm_min and pwm_max', () => {
    const policy = parsePolicy({ actuators: [{ match: 'ESP_1:5', pwm_min: 0.2, pwm_max: 0.8 }] });
    expect(policy.check(cmd({ command: 'PWM', value: 0.9 }))?.message).toBe(
      'safety rule "ESP_1:5": PWM value 0.9 above pwm_max 0.8',
    );
    expect(policy.check(cmd({ command: 'PWM', value: 0.1 }))?.message).toBe(
      'safety rule "ESP_1:5": PWM value 0.1 below pwm_min 0.2',
    );
    expect(policy.check(cmd({ command: 'PWM', value: 0.8 }))).toBeNull();
    expect(policy.check(cmd({ command: 'PWM', value: 0.2 }))).toBeNull();
    expect(policy.check(cmd({ command: 'ON', value: 1 }))).toBeNull();
  });

  it('blocks an ON longer than max_on_seconds and reports the limit for an open-ended ON', () => {
    const policy = parsePolicy({ actuators: [{ match: 'ESP_1:5', max_on_seconds: 600 }] });
    expect(policy.check(cmd({ duration_seconds: 601 }))?.message).toBe(
      'safety rule "ESP_1:5": duration_seconds 601 above max_on_seconds 600',
    );
    expect(policy.check(cmd({ command: 'PWM', value: 0.5, duration_seconds: 900 }))?.code).toBe(Codes.SAFETY_BLOCKED);
    expect(policy.check(cmd({ command: 'TOGGLE', duration_seconds: 900 }))?.code).toBe(Codes.SAFETY_BLOCKED);
    expect(policy.check(cmd({ duration_seconds: 600 }))).toBeNull();
    expect(policy.check(cmd({ duration_seconds: 0 }))).toBeNull();
    expect(policy.maxOnSeconds('ESP_1', 5)).toBe(600);
    expect(policy.maxOnSeconds('ESP_1', 6)).toBeNull();
  });

  it('uses the exact rule over the wildcard, and the wildcard for the other pins', () => {
    const policy = parsePolicy({
      actuators: [
        { match: 'ESP_1:*', allow: ['OFF'], max_on_seconds: 10 },
        { match: 'ESP_1:5', allow: ['ON', 'OFF'] },
      ],
    });
    expect(policy.check(cmd({ gpio: 5, command: 'ON', duration_seconds: 100 }))).toBeNull();
    expect(policy.maxOnSeconds('ESP_1', 5)).toBeNull();
    expect(policy.check(cmd({ gpio: 7, command: 'ON' }))?.rule).toBe('ESP_1:*');
    expect(policy.maxOnSeconds('ESP_1', 7)).toBe(10);
    expect(policy.size).toBe(2);
  });

  it('reads the SPEC example', () => {
    const policy = parsePolicy({
      actuators: [{ match: 'ESP_12AB34CD:5', allow: ['ON', 'OFF'], pwm_min: 0, pwm_max: 0.8, max_on_seconds: 600 }],
    });
    expect(policy.check(cmd({ esp_id: 'ESP_12AB34CD', command: 'ON', duration_seconds: 60 }))).toBeNull();
  });

  it('accepts an empty block', () => {
    expect(parsePolicy({}).size).toBe(0);
    expect(SafetyPolicySchema.parse({})).toEqual({ actuators: [] });
  });
});

describe('parsePolicy', () => {
  it('rejects a bad value with 5600 and the path of the field', () => {
    const error = parseError({ actuators: [{ match: 'ESP_1:5' }, { match: 'ESP_1:6', pwm_max: 1.5 }] });
    expect(error).toBeInstanceOf(SequencerError);
    expect(error.code).toBe(Codes.INVALID_DEFINITION);
    expect(error.details.map((d) => d.path)).toEqual(['safety.actuators[1].pwm_max']);
    expect(error.details[0].code).toBe(Codes.INVALID_DEFINITION);
    expect(error.message).toContain('safety.actuators[1].pwm_max');
  });

  it('reports every bad field, unknown keys by their own path', () => {
    const error = parseError({
      actuators: [{ match: 'ESP_1', allow: ['ON', 'BLINK'], max_on_seconds: 0, colour: 'red' }],
      extra: true,
    });
    expect(error.details.map((d) => d.path).sort()).toEqual(
      [
        'safety.actuators[0].match',
        'safety.actuators[0].allow[1]',
        'safety.actuators[0].max_on_seconds',
        'safety.actuators[0].colour',
        'safety.extra',
      ].sort(),
    );
  });

  it('rejects gpio out of 0..39, a pwm_min above pwm_max, and duplicate rules', () => {
    expect(parseError({ actuators: [{ match: 'ESP_1:40' }] }).details[0].path).toBe('safety.actuators[0].match');
    expect(parseError({ actuators: [{ match: 'ESP_1:5', pwm_min: 0.9, pwm_max: 0.1 }] }).details[0]).toMatchObject({
      path: 'safety.actuators[0].pwm_min',
      message: 'pwm_min must not be above pwm_max',
    });
    expect(parseError({ actuators: [{ match: 'ESP_1:5' }, { match: 'ESP_1:5' }] }).details[0]).toMatchObject({
      path: 'safety.actuators[1].match',
      message: 'duplicate of actuators[0]',
    });
  });

  it('rejects a block that is not an object, and uses the given base path', () => {
    expect(parseError([]).details[0].path).toBe('safety');
    try {
      parsePolicy({ actuators: [{ match: 'x' }] }, 'config.safety');
      expect.unreachable();
    } catch (error) {
      expect((error as SequencerError).details[0].path).toBe('config.safety.actuators[0].match');
    }
    try {
      parsePolicy({ actuators: [{ match: 'x' }] }, '');
      expect.unreachable();
    } catch (error) {
      expect((error as SequencerError).details[0].path).toBe('actuators[0].match');
    }
  });
});
