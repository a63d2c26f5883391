/**
 * The SPEC 4 error body for what never becomes a Fastify request: bytes Node's HTTP parser refuses
 * (a malformed method, path, header or length; headers over the limit), `CONNECT`, and WebSocket
 * handshakes that `ws` refuses. Each is answered on the raw socket with `Connection: close`, then
 * the socket is closed. An upgrade request that Fastify answered over HTTP (unknown path, a
 * client_id over the limit, a plain route) gets its socket closed after the answer as well: Node
 * no longer manages a socket it handed over for an upgrade, and one left open would hold
 * shutdown. Shutdown closes any such socket still open.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { errorBody, type SequencerError } from '../domain/errors.ts';
import { malformed } from './error-handler.ts';

/** Largest request head Node accepts (its `--max-http-header-size` default). */
const MAX_HEADER_BYTES = 16 * 1024;

/** Methods the API answers at all (the `Allow` of a refused CONNECT). */
const SERVED_METHODS = 'GET, HEAD, POST, PUT, DELETE';

/** What Node's parser reports, and how it is answered: status and a message a caller can act on. */
const PARSER_ERRORS: Record<string, [number, string]> = {
  HPE_INVALID_METHOD: [400, 'Unknown HTTP method'],
  HPE_INVALID_URL: [400, 'The request path has characters that are not allowed (percent-encode them)'],
  HPE_INVALID_CONSTANT: [400, 'Malformed request line'],
  HPE_INVALID_VERSION: [400, 'Malformed request line: expected HTTP/1.0 or HTTP/1.1 followed by CRLF'],
  HPE_INVALID_HEADER_TOKEN: [400, 'Malformed header (folded lines, control characters or spaces in a header are not allowed)'],
  HPE_LF_EXPECTED: [400, 'Malformed request: every line must end with CRLF'],
  HPE_CR_EXPECTED: [400, 'Malformed request: every line must end with CRLF'],
  HPE_INVALID_CONTENT_LENGTH: [400, 'Invalid Content-Length'],
  HPE_UNEXPECTED_CONTENT_LENGTH: [400, 'Content-Length given twice, or with Transfer-Encoding'],
  HPE_INVALID_TRANSFER_ENCODING: [400, 'Invalid Transfer-Encoding (only chunked, and not with Content-Length)'],
  HPE_INVALID_CHUNK_SIZE: [400, 'Invalid chunk size in a chunked body'],
  HPE_PAUSED_H2_UPGRADE: [400, 'HTTP/2 is not served here: use HTTP/1.1'],
  HPE_HEADER_OVERFLOW: [431, `Request headers are larger than ${MAX_HEADER_BYTES / 1024} KiB`],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'The request was not received in time'],
};

/** What Node's parser error says about one refused request. */
interface ParserError extends Error {
  code?: string;
  rawPacket?: Buffer;
}

/** Writes a complete HTTP answer with the SPEC 4 body and closes the socket once it is sent. */
export function answerOnSocket(socket: Duplex, error: SequencerError, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(errorBody(error));
  const status = error.httpStatus;
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  closeAfterWrite(socket);
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

/** Destroys the socket once what was written to it has been sent (or at once if it cannot write). */
function closeAfterWrite(socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
}

/** The error for a request Node's parser refused. */
export function parserError(error: ParserError): SequencerError {
  const [status, message] = PARSER_ERRORS[error.code ?? ''] ?? [400, 'Malformed HTTP request'];
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    // The request line alone is over the limit: the path is what is too long.
    const lineEnd = error.rawPacket?.indexOf('\n') ?? -1;
    if (error.rawPacket && (lineEnd === -1 || lineEnd > MAX_HEADER_BYTES)) return malformed(414, 'The request path is too long');
  }
  return malformed(status, message);
}

/**
 * Fastify's `clientErrorHandler`: a request Node's parser refused gets the SPEC 4 body (after the
 * answer to an earlier request on the same connection); a socket already reset is left alone.
 */
export function clientErrorHandler(connectionError: Error, socket: Duplex): void {
  // Node's parser errors carry `code` and the bytes read (`rawPacket`, a Buffer).
  const error = connectionError as ParserError;
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const busy = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
  if (busy && !busy.writableFinished) {
    // A request read whole before this one is answered first; a body that broke off mid-way
    // (a bad chunk) is its own request's error, answered now unless its answer has begun.
    if (busy.req.complete) busy.once('finish', () => answerOnSocket(socket, parserError(error)));
    else if (busy.headersSent) socket.destroy();
    else answerOnSocket(socket, parserError(error));
    return;
  }
  answerOnSocket(socket, parserError(error));
}

/** What the WebSocket plugin tells the app about upgrade sockets, and how it refuses a handshake. */
export interface UpgradeSockets {
  /** The socket now carries a WebSocket: the stream plugin closes it (with 1001 at shutdown). */
  handedOver(socket: Duplex): void;
  /** `ws`'s `wsClientError` listener: a handshake it refuses gets 400 with its reason. */
  refuseHandshake(error: Error, socket: Duplex): void;
}

/**
 * Answers, on the app's server, what Fastify's routing never sees: `CONNECT` (405: this is no
 * proxy). Closes every upgrade socket answered over HTTP once its answer is sent (with
 * `Connection: close` in it where it is not already on its way), and at shutdown every upgrade
 * socket not handed to a WebSocket.
 */
export function answerRawSocketErrors(app: FastifyInstance): UpgradeSockets {
  app.server.on('connect', (_request: IncomingMessage, socket: Duplex) => {
    answerOnSocket(socket, malformed(405, 'CONNECT is not supported: this server is not a proxy'), { Allow: SERVED_METHODS });
  });

  /** Upgrade sockets not handed to a WebSocket: answered over HTTP, or still being routed. */
  const upgrades = new Set<Duplex>();
  const track = (_request: IncomingMessage, socket: Duplex): void => {
    upgrades.add(socket);
    socket.once('close', () => upgrades.delete(socket));
    // The WebSocket plugin's own listener ran first and routes the request through Fastify with a
    // response on this socket; an upgrade that succeeds never finishes it, an answer over HTTP does.
    const response = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
    if (!response) return;
    if (!response.headersSent) response.setHeader('connection', 'close');
    const close = (): void => {
      closeAfterWrite(socket);
      socket.end();
    };
    if (response.writableFinished) close();
    else response.once('finish', close);
  };
  // Once every plugin is registered, so this listener comes after the WebSocket plugin's.
  app.addHook('onReady', async () => {
    app.server.on('upgrade', track);
  });
  app.addHook('preClose', async () => {
    for (const socket of upgrades) socket.destroy();
    upgrades.clear();
  });
  return {
    handedOver: (socket) => upgrades.delete(socket),
    refuseHandshake: (error, socket) => answerOnSocket(socket, malformed(400, `WebSocket handshake refused: ${error.message}`)),
  };
}
