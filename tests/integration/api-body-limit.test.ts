/**
 * A body over the limit gets its 413, in the SPEC 4 shape, even from a client that sends the whole
 * body before it reads anything: the server reads and drops the rest of the body (within a bound)
 * instead of closing a connection with bytes unread, which the kernel answers with a reset that
 * destroys the answer. The connection then serves the next request.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server.ts';
import { parseAnswers, type RawAnswer } from '../helpers/raw-http.ts';
import { isErrorBody, testConfig } from './api-harness.ts';

let server: RunningServer;

beforeAll(async () => {
  server = await startServer(testConfig());
});

afterAll(async () => {
  await server.close();
});

const MiB = 1024 * 1024;

/**
 * Writes every part, each once the previous one left, reading nothing meanwhile; then reads until
 * `answers` answers came or the connection ended. A write the server reset ends the sending.
 */
async function sendAllThenRead(parts: Buffer[], answers: number): Promise<{ answers: RawAnswer[]; writeError: string | null }> {
  const { hostname, port } = new URL(server.url);
  const socket: Socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  socket.pause();
  let writeError: string | null = null;
  socket.on('error', (error: NodeJS.ErrnoException) => (writeError ??= error.code ?? error.message));
  const received: Buffer[] = [];
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  try {
    for (const part of parts) {
      const sent = new Promise<void>((resolve) => socket.write(part, () => resolve()));
      await Promise.race([sent, ended]);
      if (writeError !== null || socket.destroyed) break;
    }
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.resume();
    for (;;) {
      const parsed = parseAnswers(Buffer.concat(received));
      if (parsed.answers.length >= answers || socket.destroyed) return { answers: parsed.answers, writeError };
      await Promise.race([once(socket, 'data'), ended]);
    }
  } finally {
    socket.destroy();
  }
}

/** `size` bytes of body in 64 KiB pieces. */
function pieces(size: number, framed = false): Buffer[] {
  const out: Buffer[] = [];
  for (let sent = 0; sent < size; sent += 64 * 1024) {
    const piece = Buffer.alloc(Math.min(64 * 1024, size - sent), 0x20);
    out.push(framed ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]) : piece);
  }
  return out;
}

const head = (lengthHeader: string) =>
  Buffer.from(`POST /api/v1/sequences HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n${lengthHeader}\r\n\r\n`);
const health = Buffer.from('GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n');

function expectTooLarge(answer: RawAnswer | undefined): void {
  expect(answer?.status).toBe(413);
  const body = JSON.parse(answer?.body ?? '') as { error: { code: number; message: string } };
  expect(isErrorBody(body)).toBe(true);
  expect(body.error).toMatchObject({ code: 5600, message: 'Request body is too large' });
}

describe('a body over the 1 MiB limit, sent whole before the answer is read', () => {
  it.each([2, 4])('%i MiB with a Content-Length: 413, then the connection answers the next request', async (mib) => {
    const { answers, writeError } = await sendAllThenRead([head(`Content-Length: ${mib * MiB}`), ...pieces(mib * MiB), health], 2);
    const [tooLarge, next] = answers;
    expect(writeError).toBeNull();
    expectTooLarge(tooLarge);
    expect(next?.status).toBe(200);
  });

  it('2 MiB chunked: 413, then the connection answers the next request', async () => {
    const { answers, writeError } = await sendAllThenRead([head('Transfer-Encoding: chunked'), ...pieces(2 * MiB, true), Buffer.from('0\r\n\r\n'), health], 2);
    const [tooLarge, next] = answers;
    expect(writeError).toBeNull();
    expectTooLarge(tooLarge);
    expect(next?.status).toBe(200);
  });
});
