/**
 * Answers sent before the request body was read whole (413 from the Content-Length, a chunked
 * body cut off at the limit, a 401 before the body) reach the client: a connection closed with
 * bytes still unread is reset by the kernel, and a client still sending then loses the answer. So
 * the connection stays open while the rest of the body is read and dropped, within a bound; past
 * the bound, or at shutdown, the connection is cut.
 */
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';

/** True for a request on a real connection whose body has not been read whole (never for an upgrade). */
function bodyUnread(raw: IncomingMessage): boolean {
  const { headers } = raw;
  const hasBody = headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined;
  // `complete` is false only on a real connection (injected requests leave it undefined).
  return hasBody && raw.complete === false && !raw.destroyed && headers.upgrade === undefined;
}

/** Most bytes of an answered request's body read and dropped: a few times the 1 MiB body limit. */
const MAX_DRAIN_BYTES = 16 * 1024 * 1024;

/** Longest time spent reading them. */
const MAX_DRAIN_MS = 5_000;

/** Installs the draining on the app. */
export function drainUnreadBodies(app: FastifyInstance): void {
  const draining = new Set<IncomingMessage>();

  app.addHook('onSend', async (request, reply, payload) => {
    // Fastify asks to close after a body it refused; Node would then close at once, body unread.
    if (bodyUnread(request.raw)) reply.removeHeader('connection');
    return payload;
  });
  app.addHook('onResponse', async (request) => {
    const raw = request.raw;
    if (!bodyUnread(raw)) return;
    const cut = (): void => {
      raw.socket.destroy();
    };
    // Node drops a body nobody began to read without showing it: its declared length is the bound.
    if (Number(raw.headers['content-length']) > MAX_DRAIN_BYTES) return cut();
    let bytes = 0;
    const timer = setTimeout(cut, MAX_DRAIN_MS);
    const done = (): void => {
      clearTimeout(timer);
      draining.delete(raw);
    };
    draining.add(raw);
    raw.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_DRAIN_BYTES) cut();
    });
    raw.once('end', done);
    raw.once('close', done);
    raw.resume();
  });
  app.addHook('preClose', async () => {
    for (const raw of draining) raw.socket.destroy();
  });
}
