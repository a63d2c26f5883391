import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/event-bus.ts';
import { EventHub, textFrame, textFrames, type HubEntry } from '../../src/events/event-hub.ts';
import { compileFilter, filtersFromQuery, parseClientMessage } from '../../src/events/stream-filter.ts';
import type { EventEnvelope } from '../../src/events/event-types.ts';

function publishSteps(bus: EventBus, count: number, sequenceId = 'seq-a'): void {
  for (let i = 0; i < count; i++) {
    bus.publish('sequence_paused', { sequence_id: sequenceId, run_id: 'run-1', current_step: i }, 1_700_000_000_000 + i);
  }
}

const seqs = (entries: HubEntry[]) => entries.map((e) => e.event.seq);

describe('EventHub', () => {
  it('replays every buffered event after a seq, oldest first', () => {
    const bus = new EventBus();
    const hub = new EventHub({ capacity: 10 });
    hub.attach(bus);
    publishSteps(bus, 6);
    expect(seqs(hub.since(0))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(seqs(hub.since(4))).toEqual([5, 6]);
    expect(hub.since(6)).toEqual([]);
    expect(JSON.parse(hub.at(3)?.json as string)).toEqual(hub.at(3)?.event);
  });

  it('keeps only the newest events once full, so an old since starts at the oldest kept', () => {
    const bus = new EventBus();
    const hub = new EventHub({ capacity: 4 });
    hub.attach(bus);
    publishSteps(bus, 11);
    expect(hub.size).toBe(4);
    expect(hub.firstSeq).toBe(8);
    expect(hub.lastSeq).toBe(11);
    expect(seqs(hub.since(2))).toEqual([8, 9, 10, 11]);
    expect(hub.at(7)).toBeUndefined();
    expect(hub.at(12)).toBeUndefined();
    expect(hub.at(9)?.event.seq).toBe(9);
  });

  it('starts from the first event it hears when attached to a bus that already published', () => {
    const bus = new EventBus();
    publishSteps(bus, 3);
    const hub = new EventHub({ capacity: 5 });
    hub.attach(bus);
    expect(hub.firstSeq).toBe(0);
    expect(hub.lastSeq).toBe(0);
    publishSteps(bus, 2);
    expect(seqs(hub.since(0))).toEqual([4, 5]);
  });

  it('restarts its buffer when a seq does not follow the last one', () => {
    const hub = new EventHub({ capacity: 5 });
    const event = (seq: number): EventEnvelope => ({ type: 'emergency_stop', seq, timestamp: 1, data: { active: true, reason: 'x', runs_cancelled: 0, actuators_off: 0 } });
    hub.append(event(1));
    hub.append(event(2));
    hub.append(event(7));
    expect(seqs(hub.since(0))).toEqual([7]);
  });

  it('hands each event to live listeners after buffering it, until they unsubscribe', () => {
    const bus = new EventBus();
    const hub = new EventHub();
    hub.attach(bus);
    const heard: number[] = [];
    const stop = hub.subscribe((entry) => heard.push(hub.lastSeq === entry.event.seq ? entry.event.seq : -1));
    publishSteps(bus, 2);
    stop();
    publishSteps(bus, 1);
    expect(heard).toEqual([1, 2]);
    expect(hub.capacity).toBe(10_000);
  });

  it('stops buffering when detached', () => {
    const bus = new EventBus();
    const hub = new EventHub();
    const detach = hub.attach(bus);
    publishSteps(bus, 2);
    detach();
    publishSteps(bus, 2);
    expect(hub.lastSeq).toBe(2);
  });
});

describe('textFrame', () => {
  it('encodes final unmasked text frames with the 7-bit, 16-bit and 64-bit lengths of RFC 6455', () => {
    const short = textFrame('hé');
    expect([...short]).toEqual([0x81, 3, 0x68, 0xc3, 0xa9]);
    const medium = textFrame('x'.repeat(300));
    expect([medium[0], medium[1], medium.readUInt16BE(2), medium.length]).toEqual([0x81, 126, 300, 304]);
    const long = textFrame('y'.repeat(70_000));
    expect([long[0], long[1], Number(long.readBigUInt64BE(2)), long.length]).toEqual([0x81, 127, 70_000, 70_010]);
    expect(long.subarray(10).toString()).toBe('y'.repeat(70_000));
  });

  it('puts several frames back to back in one buffer, each with its own length', () => {
    const frames = textFrames(['hé', 'x'.repeat(300), '']);
    expect([...frames.subarray(0, 5)]).toEqual([0x81, 3, 0x68, 0xc3, 0xa9]);
    expect([frames[5], frames[6], frames.readUInt16BE(7), frames.subarray(9, 309).toString()]).toEqual([0x81, 126, 300, 'x'.repeat(300)]);
    expect([...frames.subarray(309)]).toEqual([0x81, 0]);
  });
});

describe('stream filters and client messages', () => {
  const step = { type: 'sequence_paused', seq: 1, timestamp: 1, data: { sequence_id: 'seq-a', run_id: 'r', current_step: 0 } } as EventEnvelope;
  const estop = { type: 'emergency_stop', seq: 2, timestamp: 1, data: { active: true, reason: null, runs_cancelled: 0, actuators_off: 0 } } as EventEnvelope;

  it('matches by type and by sequence_id, and events without a sequence only without sequence_ids', () => {
    expect(compileFilter({}).matches(step)).toBe(true);
    expect(compileFilter({ types: ['sequence_paused'] }).matches(step)).toBe(true);
    expect(compileFilter({ types: ['sequence_step'] }).matches(step)).toBe(false);
    expect(compileFilter({ sequence_ids: ['seq-a'] }).matches(step)).toBe(true);
    expect(compileFilter({ sequence_ids: ['seq-b'] }).matches(step)).toBe(false);
    expect(compileFilter({ sequence_ids: ['seq-a'] }).matches(estop)).toBe(false);
    expect(compileFilter({ types: ['emergency_stop'] }).matches(estop)).toBe(true);
  });

  it('parses subscribe, unsubscribe and replay, and names what is wrong in a bad message', () => {
    expect(parseClientMessage('{"action":"subscribe","filters":{"types":["sequence_step"]}}')).toEqual({ action: 'subscribe', filters: { types: ['sequence_step'] } });
    expect(parseClientMessage('{"action":"subscribe"}')).toEqual({ action: 'subscribe', filters: {} });
    expect(parseClientMessage('{"action":"unsubscribe"}')).toEqual({ action: 'unsubscribe' });
    expect(parseClientMessage('{"action":"replay","since":12}')).toEqual({ action: 'replay', since: 12 });
    const notJson = parseClientMessage('{nope');
    expect(notJson).toBeInstanceOf(Error);
    expect((notJson as Error).message).toBe('Client message is not valid JSON');
    const badType = parseClientMessage('{"action":"subscribe","filters":{"types":["bogus"]}}') as Error & { code: number; details: { path: string }[] };
    expect(badType.code).toBe(5600);
    expect(badType.details[0]?.path).toBe('filters.types[0]');
    const unknownKey = parseClientMessage('{"action":"subscribe","filters":{"typez":[]}}') as Error & { details: { path: string; message: string }[] };
    expect(unknownKey.details).toEqual([expect.objectContaining({ path: 'filters.typez', message: 'unknown key' })]);
    expect(parseClientMessage('{"action":"replay","since":-1}')).toBeInstanceOf(Error);
    expect(parseClientMessage('null')).toBeInstanceOf(Error);
  });

  it('reads filters from the connect URL and refuses unknown types', () => {
    expect(filtersFromQuery({ types: 'sequence_step,sequence_completed', sequence_ids: 'a' })).toEqual({ types: ['sequence_step', 'sequence_completed'], sequence_ids: ['a'] });
    expect(filtersFromQuery({})).toEqual({});
    expect(filtersFromQuery({ types: 'bogus' })).toBeNull();
  });
});
