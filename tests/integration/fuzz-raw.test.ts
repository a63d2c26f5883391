/**
 * A seeded fuzz of the HTTP layer below the routes, on a real port and raw sockets: thousands of
 * requests mangled byte by byte (methods, paths, versions, line endings, headers, lengths, chunks,
 * bodies, upgrades, pipelining, truncation), each sent by a client that then hangs up (so every
 * exchange ends, whatever the bytes). No answer is a 5xx, every error answer is the one SPEC 4 body,
 * nothing but whole answers comes back, and the server stays healthy with its runs going on. (An
 * answer that was not ready when the client hung up is dropped by Node, as for any such client.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooser, prng } from '../helpers/prng.ts';
import { rawExchange, type RawExchange } from '../helpers/raw-http.ts';
import { expectHealthyAfterFuzz, isErrorBody, parseOrUndefined, startFuzzTarget, type FuzzTarget } from './api-harness.ts';

const SEED = 0x12_2026;
const REQUESTS = 3000;

interface Mangled {
  kind: string;
  bytes: Buffer;
}

/** Builds mangled requests from valid ones, the same ones for the same seed. */
function generator(random: () => number): () => Mangled {
  const { int, pick } = chooser(random);
  const definition = () => JSON.stringify({ sequence_id: `raw-${int(1e9)}`, mode: 'parallel', steps: [{ name: 'Wait', delay_seconds: 0.01 }] });
  const valid = (): { method: string; path: string; headers: string[]; body: string } => {
    const body = definition();
    return pick([
      { method: 'GET', path: '/health', headers: [], body: '' },
      { method: 'GET', path: '/api/v1/sequences?limit=2', headers: [], body: '' },
      { method: 'POST', path: '/api/v1/sequences', headers: ['Content-Type: application/json'], body },
      { method: 'POST', path: '/api/v1/sequences/validate', headers: ['Content-Type: application/json'], body },
      { method: 'PUT', path: '/api/v1/sim/devices/ESP_FUZZ', headers: ['Content-Type: application/json'], body: '{"latency_ms":0}' },
    ]);
  };
  const oddBytes = [0x00, 0x01, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x25, 0x7f, 0x80, 0xc3, 0xff];
  const noise = (n: number) => Buffer.from(Array.from({ length: n }, () => (int(2) === 0 ? pick(oddBytes) : int(256))));
  const head = (method: string, path: string, lines: string[], version = 'HTTP/1.1', eol = '\r\n') =>
    `${method} ${path} ${version}${eol}${['Host: localhost', ...lines].map((l) => `${l}${eol}`).join('')}${eol}`;
  const withLength = (lines: string[], body: string) => [...lines, `Content-Length: ${Buffer.byteLength(body)}`];
  const request = (r = valid()) => Buffer.from(head(r.method, r.path, withLength(r.headers, r.body)) + r.body);
  const ws = ['Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='];

  const kinds: Record<string, () => Buffer> = {
    method: () => {
      const r = valid();
      return Buffer.from(head(pick(['FOO', 'get', 'G ET', 'PROPFIND', 'TRACE', 'OPTIONS', 'DELETE', 'PATCH', 'M-SEARCH', '', '\u0000']), r.path, withLength(r.headers, r.body)) + r.body);
    },
    path: () => {
      const r = valid();
      const at = 1 + int(r.path.length);
      const path = pick([
        () => Buffer.concat([Buffer.from(r.path.slice(0, at)), noise(1 + int(3)), Buffer.from(r.path.slice(at))]).toString('latin1'),
        () => `${r.path.slice(0, at)}${pick(['%', '%zz', '%00', '/..', '//', '#x', '?a=%ff', ';x', '/%2e%2e/'])}${r.path.slice(at)}`,
        () => `/api/v1/sequences/${'p'.repeat(pick([101, 5000, 20_000]))}`,
        () => pick(['*', 'http://localhost/health', 'localhost:80', '', 'health']),
      ])();
      return Buffer.concat([Buffer.from(head(r.method, path, withLength(r.headers, r.body)), 'latin1'), Buffer.from(r.body)]);
    },
    version: () => {
      const r = valid();
      return Buffer.from(head(r.method, r.path, withLength(r.headers, r.body), pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', 'HTTP/1', 'http/1.1', 'HTTP/0.9', ''])) + r.body);
    },
    'line endings': () => {
      const r = valid();
      return Buffer.from(head(r.method, r.path, withLength(r.headers, r.body), 'HTTP/1.1', pick(['\n', '\r', '\n\r', '\r\r\n'])) + r.body);
    },
    headers: () => {
      const r = valid();
      const bad = pick([
        'X-Fold: a\r\n b', 'X-Nul: a\u0000b', 'X Bad: 1', ': empty', 'X-Ctl: \u0001', `X-Big: ${'h'.repeat(20_000)}`,
        'Content-Length: 1', 'Content-Length: -1', 'Content-Length: 1e3', 'Content-Length: 99999999999999999999',
        'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip', 'Transfer-Encoding: chunked, chunked',
        'Content-Type: text/plain', 'Content-Type: application/json; charset=latin1', 'Expect: 100-continue', 'Connection: close, upgrade',
        ...Array.from({ length: 3 }, () => `X-Noise: ${noise(8).toString('latin1')}`),
      ]);
      const lines = withLength(r.headers, r.body);
      lines.splice(int(lines.length + 1), 0, bad);
      return Buffer.concat([Buffer.from(head(r.method, r.path, lines), 'latin1'), Buffer.from(r.body)]);
    },
    'many headers': () => request({ ...valid(), headers: Array.from({ length: pick([100, 1000, 3000]) }, (_, i) => `X-H${i}: ${'v'.repeat(int(20))}`) }),
    body: () => {
      const r = { ...valid(), method: 'POST', path: pick(['/api/v1/sequences', '/api/v1/sequences/validate']), headers: ['Content-Type: application/json'] };
      const body = Buffer.from(definition());
      const at = int(body.length);
      const mangled = pick([
        () => Buffer.concat([body.subarray(0, at), noise(1 + int(4)), body.subarray(at)]),
        () => Buffer.concat([Buffer.from('{"sequence_id":"'), Buffer.from([pick([0xc3, 0xe2, 0xf0, 0xff, 0xed]), 0x28]), Buffer.from('","steps":[{"delay_seconds":1}]}')]),
        () => Buffer.alloc(pick([1024 * 1024 + 1, 2 * 1024 * 1024]), 0x20),
        () => body.subarray(0, at),
      ])();
      return Buffer.concat([Buffer.from(head(r.method, r.path, [...r.headers, `Content-Length: ${mangled.length + pick([0, 0, 0, -1, 1, 50])}`])), mangled]);
    },
    chunked: () => {
      const body = definition();
      const size = pick([body.length.toString(16), 'zz', '-1', '', 'ffffffffffffffff', `${body.length.toString(16)};ext=1`, ' 1']);
      const tail = pick(['0\r\n\r\n', '', '0\r\nX-Trailer: 1\r\n\r\n', '1\r\n']);
      return Buffer.from(`${head('POST', '/api/v1/sequences', ['Content-Type: application/json', 'Transfer-Encoding: chunked'])}${size}\r\n${body}\r\n${tail}`);
    },
    upgrade: () => {
      const path = pick(['/api/v1/ws', '/ws/realtime/fuzz', '/ws/nope', `/ws/realtime/${'c'.repeat(101)}`, '/api/v1/sequences', '/health']);
      const lines = pick([
        ['Connection: Upgrade', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA'],
        ws.filter((l) => !l.startsWith('Sec-WebSocket-Key')),
        ws.map((l) => (l.startsWith('Sec-WebSocket-Version') ? `Sec-WebSocket-Version: ${pick(['12', '', 'x'])}` : l)),
        ws.map((l) => (l.startsWith('Sec-WebSocket-Key') ? `Sec-WebSocket-Key: ${pick(['short', '', '!!!!!!!!!!!!!!!!!!!!!!==', 'dGhlIHNhbXBsZSBub25jZQ'])}` : l)),
        ws.map((l) => (l.startsWith('Upgrade') ? `Upgrade: ${pick(['websocket2', 'WebSocket, h2c', 'tls/1.0', ''])}` : l)),
      ]);
      return Buffer.from(head(pick(['GET', 'GET', 'POST']), path, lines));
    },
    connect: () => Buffer.from(`CONNECT ${pick(['example.com:443', 'localhost:22', '*', ''])} HTTP/1.1\r\nHost: localhost\r\n\r\n`),
    flips: () => {
      const bytes = request();
      for (let i = 1 + int(4); i > 0; i--) bytes[int(bytes.length)] = pick(oddBytes);
      return bytes;
    },
    pipelined: () => Buffer.concat([request(), pick([noise(20), request().subarray(0, 20 + int(40)), Buffer.from('FOO / HTTP/1.1\r\n\r\n')])]),
    truncated: () => {
      const bytes = request();
      return bytes.subarray(0, 1 + int(bytes.length - 1));
    },
    garbage: () => noise(1 + int(200)),
  };
  const names = Object.keys(kinds);
  return () => {
    const kind = pick(names);
    return { kind, bytes: (kinds[kind] as () => Buffer)() };
  };
}

describe(`fuzzing the HTTP layer on raw sockets (seed ${SEED.toString(16)}, ${REQUESTS} connections)`, () => {
  let target: FuzzTarget;
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  const kinds = new Map<string, number>();
  const answered = new Map<string, number>();

  beforeAll(async () => {
    target = await startFuzzTarget();
    const next = generator(prng(SEED));
    const parallel = 8;
    for (let i = 0; i < REQUESTS; i += parallel) {
      const batch = Array.from({ length: parallel }, next);
      const outcomes = await Promise.all(batch.map((m) => rawExchange(target.server.url, m.bytes, { end: true }).catch((error: Error) => error)));
      outcomes.forEach((outcome, j) => {
        const { kind, bytes } = batch[j] as Mangled;
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        const where = `${kind}: ${JSON.stringify(bytes.subarray(0, 120).toString('latin1'))}`;
        if (outcome instanceof Error) return void failures.push(`connection error ${outcome.message} for ${where}`);
        if (outcome.answers.length > 0) answered.set(kind, (answered.get(kind) ?? 0) + 1);
        check(outcome, where);
      });
    }
  }, 180_000);

  function check({ answers, rest }: RawExchange, where: string): void {
    if (rest !== '') failures.push(`bytes that are no answer: ${JSON.stringify(rest.slice(0, 80))} for ${where}`);
    for (const answer of answers) {
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      if (answer.status >= 500) failures.push(`${answer.status} ${answer.body.slice(0, 200)} for ${where}`);
      if (answer.status >= 400 && !isErrorBody(parseOrUndefined(answer.body))) failures.push(`shape ${answer.status} ${answer.body.slice(0, 200)} for ${where}`);
    }
  }

  afterAll(async () => {
    await target.server.close();
  });

  it('never answers with a 5xx, and every error in the SPEC 4 shape', () => {
    expect(failures.slice(0, 20)).toEqual([]);
    expect([...kinds.values()].reduce((a, b) => a + b, 0)).toBe(REQUESTS);
  });

  it('exercised every kind of mangling and got the statuses of each layer', () => {
    expect(kinds.size).toBe(14);
    // Every kind of mangled request was answered (most of them each time): none meets a silent close.
    expect([...answered.keys()].sort()).toEqual([...kinds.keys()].sort());
    for (const status of [200, 202, 400, 404, 405, 413, 414, 415, 422, 431]) expect(statuses.get(status) ?? 0, `status ${status}`).toBeGreaterThan(0);
  });

  it('leaves a healthy server whose run started before the fuzz completes', async () => {
    await expectHealthyAfterFuzz(target);
  });
});
