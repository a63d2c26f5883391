import { describe, expect, it } from 'vitest';
import { PendingCommands, type Waiting } from '../../src/drivers/pending-commands.ts';

const T5 = 'kaiser/god/esp/ESP_1/actuator/5/response';
const T6 = 'kaiser/god/esp/ESP_1/actuator/6/response';

function waiting(id: string, topic: string, command: string, value = command === 'OFF' ? 0 : 1): Waiting {
  return { id, topic, command, value };
}

describe('pairing an answer with a waiting command', () => {
  it('pairs an answer carrying a correlation_id with that command, and only on its own topic', () => {
    const pending = new PendingCommands<Waiting>();
    const on5 = waiting('a', T5, 'ON');
    pending.add(on5);
    expect(pending.match(T5, { correlation_id: 'a', command: 'ON' })).toBe(on5);
    expect(pending.match(T6, { correlation_id: 'a', command: 'ON' })).toBeUndefined();
  });

  it("never gives an answer with someone else's correlation_id to the command of the same kind waiting there", () => {
    const pending = new PendingCommands<Waiting>();
    pending.add(waiting('ours', T5, 'ON'));
    expect(pending.match(T5, { correlation_id: 'theirs', command: 'ON' })).toBeUndefined();
  });

  it('pairs an answer without an id with the oldest command of the same kind waiting on that topic', () => {
    const pending = new PendingCommands<Waiting>();
    const first = waiting('1', T5, 'ON');
    const off = waiting('2', T5, 'OFF');
    const second = waiting('3', T5, 'ON');
    for (const entry of [first, off, second]) pending.add(entry);

    expect(pending.match(T5, { command: 'OFF' })).toBe(off);
    expect(pending.match(T5, { command: 'on' })).toBe(first);
    pending.delete(first);
    expect(pending.match(T5, { command: 'ON' })).toBe(second);
    expect(pending.match(T6, { command: 'ON' })).toBeUndefined();
    expect(pending.match(T5, { command: 'TOGGLE' })).toBeUndefined();
    expect(pending.match(T5, {})).toBeUndefined();
  });

  it('pairs a PWM answer only with a PWM command of the same value, within the 3 decimals the firmware prints', () => {
    const pending = new PendingCommands<Waiting>();
    const quarter = waiting('q', T5, 'PWM', 0.25);
    const third = waiting('t', T5, 'PWM', 1 / 3);
    pending.add(quarter);
    pending.add(third);
    expect(pending.match(T5, { command: 'PWM', value: 0.333 })).toBe(third);
    expect(pending.match(T5, { command: 'PWM', value: 0.25 })).toBe(quarter);
    expect(pending.match(T5, { command: 'PWM', value: 0.5 })).toBeUndefined();
    expect(pending.match(T5, { command: 'PWM' })).toBeUndefined();
  });

  it('tells whether anything waits on a topic, and forgets a command once deleted', () => {
    const pending = new PendingCommands<Waiting>();
    const on = waiting('a', T5, 'ON');
    pending.add(on);
    expect([pending.size, pending.has('a'), pending.waitingOn(T5), pending.waitingOn(T6)]).toEqual([1, true, true, false]);
    expect(pending.values()).toEqual([on]);
    expect(pending.delete(on)).toBe(true);
    expect(pending.delete(on)).toBe(false);
    expect([pending.size, pending.has('a'), pending.waitingOn(T5)]).toEqual([0, false, false]);
    expect(pending.match(T5, { correlation_id: 'a' })).toBeUndefined();
  });
});
