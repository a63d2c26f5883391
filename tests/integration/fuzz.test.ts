/**
 * A seeded fuzz of the HTTP API on a real port: hundreds of malformed requests (bad JSON, wrong
 * types, huge strings, nulls, deep nesting, unknown routes, wrong methods, wrong content types)
 * must all get a 4xx in the SPEC 4 shape, never a 5xx, and leave a healthy server whose runs go on.
 */
import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng } from '../helpers/prng.ts';
import { expectHealthyAfterFuzz, isErrorBody, parseOrUndefined, startFuzzTarget, type FuzzTarget } from './api-harness.ts';

const SEED = 0x5e9_2026;
const REQUESTS = 800;

interface FuzzRequest {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

interface Answer {
  status: number;
  body: string;
}

function generator(random: () => number) {
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const chars = 'abcXYZ019 _-./%?#&=:;"\'\\{}[]<>~`!@$^*()+|\u00e9\u4e2d\u{1f331}\u0000';
  const text = (n: number) => Array.from({ length: n }, () => pick([...chars])).join('');
  const ids = ['run-x', 'seq-00000000', text(6), 'irrigation', '..', '%2e%2e', 'a'.repeat(90)];
  const weird = () =>
    pick<unknown>([null, true, false, 0, -1, 1e308, -0.5, 3601, '', 'x'.repeat(int(3) === 0 ? 20_000 : 50), [], {}, [null], { type: null }, text(8), [1, 'a', {}]]);
  const validStep = () => pick<Record<string, unknown>>([{ delay_seconds: 1 }, { action: { type: 'actuator_command', esp_id: 'ESP_A', gpio: 3, command: 'ON' } }]);
  const definition = (): Record<string, unknown> => ({ sequence_id: `fz-${int(1e9)}`, steps: [validStep(), validStep()] });

  /** Replaces one field somewhere in a valid definition with a value of the wrong type. */
  const mutate = (): unknown => {
    const def = definition();
    const steps = def.steps as Record<string, unknown>[];
    const step = steps[0] as Record<string, unknown>;
    switch (int(7)) {
      case 0: def[pick(['steps', 'sequence_id', 'mode', 'priority', 'max_duration_seconds', 'abort_on_failure', 'cleanup_steps'])] = weird(); break;
      case 1: step[pick(['delay_seconds', 'timeout_seconds', 'retry_count', 'on_failure', 'name', 'action', 'retry_backoff'])] = weird(); break;
      case 2: step.action = { type: pick(['actuator_command', 'notification', 'sequence', 'delay']), [pick(['esp_id', 'gpio', 'command', 'value', 'channel', 'steps', 'seconds'])]: weird() }; break;
      case 3: def.context = { [pick(['rule_id', 'rule_name', 'triggered_by', 'trigger_data', 'other'])]: weird() }; break;
      case 4: def[text(5)] = weird(); break;
      case 5: return weird();
      default: steps.push(...Array.from({ length: 60 }, validStep));
    }
    return def;
  };

  const deep = () => {
    const depth = pick([70, 500, 5000, 50_000]);
    const open = pick(['[', '{"a":']);
    return `{"steps":[{"delay_seconds":1}],"context":{"trigger_data":${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}}}`;
  };

  const badJson = () =>
    pick([
      '{', '}', '[1,]', '{"steps": [', "{'steps': []}", 'NaN', 'undefined', '{"a":1}}', '\u0000', '{"steps":[{"delay_seconds":01}]}',
      JSON.stringify(definition()).slice(0, 1 + int(40)), text(30), '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}',
    ]);

  const known: [string, string][] = [
    ['POST', '/api/v1/sequences'],
    ['POST', '/api/v1/sequences/validate'],
    ['GET', '/api/v1/sequences'],
    ['GET', '/api/v1/sequences/stats'],
    ['GET', `/api/v1/sequences/${encodeURIComponent(pick(ids))}`],
    ['GET', `/api/v1/sequences/${encodeURIComponent(pick(ids))}/snapshot`],
    ['POST', `/api/v1/sequences/${encodeURIComponent(pick(ids))}/cancel`],
    ['POST', `/api/v1/sequences/${encodeURIComponent(pick(ids))}/pause`],
    ['POST', `/api/v1/sequences/${encodeURIComponent(pick(ids))}/resume`],
    ['PUT', `/api/v1/sim/devices/${encodeURIComponent(pick(ids))}`],
    ['GET', '/api/v1/sim/devices'],
    ['GET', `/api/v1/sequence-templates/${encodeURIComponent(pick(ids))}`],
    ['PUT', `/api/v1/sequence-templates/${encodeURIComponent(pick(ids))}`],
    ['POST', `/api/v1/sequence-templates/${encodeURIComponent(pick(ids))}/start`],
    ['GET', '/health'],
    ['GET', '/metrics'],
  ];
  const json = { 'content-type': 'application/json' };

  return (): FuzzRequest => {
    const [method, path] = pick(known);
    switch (int(9)) {
      case 0: return { kind: 'bad JSON', method: 'POST', path: pick(['/api/v1/sequences', '/api/v1/sequences/validate', '/api/v1/sequences/x/cancel']), headers: json, body: badJson() };
      case 1: return { kind: 'wrong types', method, path, headers: json, body: JSON.stringify(mutate()) };
      case 2: return { kind: 'huge strings', method: 'POST', path: '/api/v1/sequences', headers: json, body: JSON.stringify({ sequence_id: 'h'.repeat(pick([101, 5000, 1_100_000])), steps: [{ delay_seconds: 1 }] }) };
      case 3: return { kind: 'nulls', method, path, headers: json, body: pick(['null', '{"steps":null}', '{"steps":[null]}', '{"steps":[{"action":null,"delay_seconds":null}]}', '{"reason":null}', '{"latency_ms":null}']) };
      case 4: return { kind: 'deep nesting', method: 'POST', path: '/api/v1/sequences', headers: json, body: deep() };
      case 5: return { kind: 'unknown route', method: pick(['GET', 'POST']), path: `/${pick(['api/v1', 'api/v2', 'ws', 'docs/x', ''])}/${encodeURIComponent(text(1 + int(12)))}${pick(['', '/', '?q=%zz', '/..%2f'])}`, headers: {} };
      case 6: return { kind: 'wrong method', method: pick(['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'POST', 'GET'].filter((m) => m !== method)), path, headers: json, body: '{}' };
      case 7: return { kind: 'wrong content type', method: 'POST', path: pick(['/api/v1/sequences', '/api/v1/sequences/validate']), headers: { 'content-type': pick(['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/jsonx', 'image/png']) }, body: JSON.stringify(definition()) };
      default: return { kind: 'bad query', method: 'GET', path: `/api/v1/sequences?${pick(['limit', 'offset', 'status', 'running_only', 'sort', 'limit[]'])}=${encodeURIComponent(String(weird()).slice(0, 3000))}`, headers: {} };
    }
  };
}

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

function send(base: string, req: FuzzRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const headers: Record<string, string | number> = { ...req.headers };
    if (req.body !== undefined) headers['content-length'] = Buffer.byteLength(req.body);
    const r = request({ host: url.hostname, port: url.port, method: req.method, path: req.path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(req.body);
  });
}

describe(`fuzzing the HTTP API (seed ${SEED.toString(16)}, ${REQUESTS} requests)`, () => {
  let target: FuzzTarget;
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  const kinds = new Map<string, number>();

  beforeAll(async () => {
    target = await startFuzzTarget();
    const next = generator(prng(SEED));
    const batch = 8;
    for (let i = 0; i < REQUESTS; i += batch) {
      const requests = Array.from({ length: batch }, next);
      const answers = await Promise.all(requests.map((req) => send(target.server.url, req)));
      answers.forEach((answer, j) => {
        const req = requests[j] as FuzzRequest;
        kinds.set(req.kind, (kinds.get(req.kind) ?? 0) + 1);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        const where = `${req.kind}: ${req.method} ${req.path.slice(0, 80)} ${String(req.body).slice(0, 80)} -> ${answer.status} ${answer.body.slice(0, 200)}`;
        if (answer.status >= 500) failures.push(`5xx ${where}`);
        if (answer.status >= 400 && req.method !== 'HEAD' && !isErrorBody(parseOrUndefined(answer.body))) failures.push(`shape ${where}`);
      });
    }
  }, 120_000);

  afterAll(async () => {
    await target.server.close();
    agent.destroy();
  });

  it('never answers 5xx and always answers errors in the SPEC 4 shape', () => {
    expect(failures).toEqual([]);
    expect([...kinds.values()].reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(500);
  });

  it('exercised every kind of malformed request and got the matching statuses', () => {
    expect([...kinds.keys()].sort()).toEqual(
      ['bad JSON', 'bad query', 'deep nesting', 'huge strings', 'nulls', 'unknown route', 'wrong content type', 'wrong method', 'wrong types'].sort(),
    );
    for (const status of [400, 404, 405, 413, 415, 422]) expect(statuses.get(status) ?? 0, `status ${status}`).toBeGreaterThan(0);
  });

  it('leaves a healthy server whose run started before the fuzz completes', async () => {
    await expectHealthyAfterFuzz(target);
  });
});
