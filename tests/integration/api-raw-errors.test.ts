/**
 * Requests Fastify never sees as requests get the one SPEC 4 error body too, on a real port:
 * whatever Node's HTTP parser refuses (method, path bytes, headers, line endings, lengths, sizes),
 * CONNECT, and WebSocket handshakes that are refused. Each answer says `Connection: close` and the
 * server then closes the connection, so nothing is left open to hold a shutdown.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server.ts';
import { rawExchange, upgradeRequest, type RawAnswer } from '../helpers/raw-http.ts';
import { isErrorBody, testConfig } from './api-harness.ts';

let server: RunningServer;

beforeAll(async () => {
  server = await startServer(testConfig());
});

afterAll(async () => {
  await server.close();
});

/** Sends raw bytes; expects exactly one answer, in the SPEC 4 shape with `code` (5600: malformed), then the server's close. */
async function refused(bytes: string | Buffer, code = 5600): Promise<RawAnswer & { message: string }> {
  const { answers, rest } = await rawExchange(server.url, bytes);
  expect(answers, rest).toHaveLength(1);
  const answer = answers[0] as RawAnswer;
  const body = JSON.parse(answer.body) as unknown;
  expect(isErrorBody(body), answer.body).toBe(true);
  expect((body as { error: { code: number } }).error.code).toBe(code);
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  expect(answer.headers.connection?.toLowerCase()).toBe('close');
  return { ...answer, message: (body as { error: { message: string } }).error.message };
}

const get = (head: string) => `GET /health HTTP/1.1\r\nHost: localhost\r\n${head}\r\n`;
const post = (head: string, body = '') => `POST /api/v1/sequences HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n${head}\r\n${body}`;

describe("what Node's HTTP parser refuses", () => {
  it.each([
    ['an unknown method', 'FOO /api/v1/sequences HTTP/1.1\r\nHost: localhost\r\n\r\n', 'Unknown HTTP method'],
    ['a raw non-ASCII byte in the path', Buffer.concat([Buffer.from('GET /api/v1/sequences/'), Buffer.from([0xff]), Buffer.from(' HTTP/1.1\r\nHost: localhost\r\n\r\n')]), 'percent-encode'],
    ['a folded header', get('X-Note: a\r\n  b\r\n'), 'Malformed header'],
    ['a NUL in a header', get('X-Note: a\u0000b\r\n'), 'Malformed header'],
    ['LF-only line endings', 'GET /health HTTP/1.1\nHost: localhost\n\n', 'CRLF'],
    ['a Content-Length that is not a number', post('Content-Length: abc\r\n'), 'Invalid Content-Length'],
    ['two Content-Lengths', post('Content-Length: 1\r\nContent-Length: 2\r\n', 'ab'), 'Content-Length given twice'],
    ['Content-Length with Transfer-Encoding', post('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), 'Transfer-Encoding'],
    ['a bad chunk size', post('Transfer-Encoding: chunked\r\n', 'zz\r\n{}\r\n0\r\n\r\n'), 'chunk size'],
    ['an HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'HTTP/2'],
  ])('%s: 400', async (_case, bytes, message) => {
    const answer = await refused(bytes);
    expect(answer.status).toBe(400);
    expect(answer.message).toContain(message);
  });

  it('headers over 16 KiB: 431', async () => {
    const answer = await refused(get(`X-Note: ${'a'.repeat(20_000)}\r\n`));
    expect([answer.status, answer.message]).toEqual([431, 'Request headers are larger than 16 KiB']);
  });

  it('a request path over 16 KiB: 414', async () => {
    const answer = await refused(`GET /api/v1/sequences/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    expect([answer.status, answer.message]).toEqual([414, 'The request path is too long']);
  });

  it('a malformed request after a good one on the same connection: the good one is answered first', async () => {
    const { answers } = await rawExchange(server.url, `${get('')}FOO / HTTP/1.1\r\n\r\n`);
    expect(answers.map((a) => a.status)).toEqual([200, 400]);
    expect(isErrorBody(JSON.parse((answers[1] as RawAnswer).body))).toBe(true);
  });
});

describe('CONNECT', () => {
  it('is answered 405 with what the server serves, not a silently closed socket', async () => {
    const answer = await refused('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('GET, HEAD, POST, PUT, DELETE');
  });
});

describe('refused WebSocket upgrades', () => {
  it('Upgrade: h2c on the stream: 400 in the SPEC 4 shape', async () => {
    const answer = await refused('GET /api/v1/ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n');
    expect([answer.status, answer.message]).toEqual([400, 'WebSocket handshake refused: Invalid Upgrade header']);
  });

  it('a handshake without Sec-WebSocket-Key: 400 in the SPEC 4 shape', async () => {
    const answer = await refused(upgradeRequest('/api/v1/ws', ''));
    expect([answer.status, answer.message]).toEqual([400, 'WebSocket handshake refused: Missing or invalid Sec-WebSocket-Key header']);
  });

  it('an unknown path: 404, and the server closes the connection', async () => {
    expect((await refused(upgradeRequest('/ws/nope'), 5652)).status).toBe(404);
  });

  it('a client_id over 100 characters: 414, and the server closes the connection', async () => {
    expect((await refused(upgradeRequest(`/ws/realtime/${'c'.repeat(101)}`))).status).toBe(414);
  });
});
