/**
 * AutomationOne's MQTT topics (SPEC 9 and 10, the firmware's protocol document): the ones the
 * driver writes (with the emergency messages that go on them), the filters it subscribes to, and
 * the parsing of a topic it receives into what it is about (which node, which actuator, which
 * kind of report).
 */

/** What a received topic carries. */
export type TopicKind =
  | 'response'
  | 'status'
  | 'alert'
  | 'safe_mode'
  | 'heartbeat'
  | 'node_status'
  | 'sensor_data'
  | 'sensor_batch';

/** A received topic, parsed. `gpio` is null for reports about the whole node. */
export interface ParsedTopic {
  kind: TopicKind;
  espId: string;
  gpio: number | null;
}

/** The broadcast every node obeys (SPEC 10), whatever its `kaiser_id`. */
export const BROADCAST_EMERGENCY_TOPIC = 'kaiser/broadcast/emergency';

/** The command topic of one actuator. */
export function commandTopic(kaiserId: string, espId: string, gpio: number): string {
  return `kaiser/${kaiserId}/esp/${espId}/actuator/${gpio}/command`;
}

/** The response topic of one actuator. */
export function responseTopic(kaiserId: string, espId: string, gpio: number): string {
  return `kaiser/${kaiserId}/esp/${espId}/actuator/${gpio}/response`;
}

/** The node's emergency topic (`clear_emergency` goes there). */
export function emergencyTopic(kaiserId: string, espId: string): string {
  return `kaiser/${kaiserId}/esp/${espId}/actuator/emergency`;
}

/** The node's system command topic (`resume_operation` goes there). */
export function systemCommandTopic(kaiserId: string, espId: string): string {
  return `kaiser/${kaiserId}/esp/${espId}/system/command`;
}

/** One message to publish. */
export interface Outgoing {
  topic: string;
  payload: object;
  qos: 1 | 2;
}

/**
 * The emergency broadcast of SPEC 10: the firmware reads `action`, AutomationOne's server
 * `command`; `reason` is the operator's own words, `ts` Unix seconds.
 */
export function emergencyBroadcast(reason: string, nowMs: number): Outgoing {
  const payload = { action: 'stop_all', command: 'EMERGENCY_STOP', reason, ts: Math.floor(nowMs / 1000) };
  return { topic: BROADCAST_EMERGENCY_TOPIC, payload, qos: 2 };
}

/** What lifts one node's emergency stop, in this order (SPEC 10): clear its flags, then resume its outputs. */
export function emergencyClear(kaiserId: string, espId: string): [Outgoing, Outgoing] {
  return [
    { topic: emergencyTopic(kaiserId, espId), payload: { command: 'clear_emergency' }, qos: 1 },
    { topic: systemCommandTopic(kaiserId, espId), payload: { command: 'resume_operation' }, qos: 1 },
  ];
}

/**
 * The filters the driver subscribes to: one per kind of report. Never `esp/#`, which would also
 * deliver the driver's own commands back to it.
 */
export function subscriptionFilters(kaiserId: string): string[] {
  const node = `kaiser/${kaiserId}/esp/+`;
  return [
    `${node}/actuator/+/response`,
    `${node}/actuator/+/status`,
    `${node}/actuator/+/alert`,
    `${node}/safe_mode`,
    `${node}/system/heartbeat`,
    `${node}/status`,
    `${node}/sensor/+/data`,
    `${node}/sensor/batch`,
  ];
}

const GPIO_LEVEL = /^\d{1,3}$/;

/** What `topic` is about, or null when it is none of the subscribed kinds under `kaiserId`. */
export function parseTopic(kaiserId: string, topic: string): ParsedTopic | null {
  const levels = topic.split('/');
  if (levels[0] !== 'kaiser' || levels[1] !== kaiserId || levels[2] !== 'esp') return null;
  const espId = levels[3];
  if (!espId) return null;
  const rest = levels.slice(4);
  const [first, second, third] = rest;
  if (rest.length === 1 && first === 'safe_mode') return { kind: 'safe_mode', espId, gpio: null };
  if (rest.length === 1 && first === 'status') return { kind: 'node_status', espId, gpio: null };
  if (rest.length === 2 && first === 'system' && second === 'heartbeat') return { kind: 'heartbeat', espId, gpio: null };
  if (rest.length === 2 && first === 'sensor' && second === 'batch') return { kind: 'sensor_batch', espId, gpio: null };
  if (rest.length !== 3 || second === undefined || !GPIO_LEVEL.test(second) || Number(second) > 255) return null;
  const pin = Number(second);
  if (first === 'sensor' && third === 'data') return { kind: 'sensor_data', espId, gpio: pin };
  if (first !== 'actuator') return null;
  if (third === 'response' || third === 'status' || third === 'alert') return { kind: third, espId, gpio: pin };
  return null;
}
