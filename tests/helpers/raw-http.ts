/**
 * HTTP over a raw socket, for what an HTTP client library refuses to send (a malformed method,
 * path or header, CONNECT, a WebSocket handshake gone wrong) and for what it hides (whether the
 * server closed the connection).
 */
import { connect } from 'node:net';

/** One HTTP answer read off the socket. */
export interface RawAnswer {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

/** What came back for the bytes sent, read until the server closed the connection. */
export interface RawExchange {
  /** Every answer, in order (several for pipelined requests). */
  answers: RawAnswer[];
  /** Bytes after the last whole answer (none when the server answered cleanly). */
  rest: string;
}

/** Splits the bytes a server sent into HTTP answers delimited by their Content-Length. */
export function parseAnswers(bytes: Buffer): RawExchange {
  const answers: RawAnswer[] = [];
  let at = 0;
  for (;;) {
    const headEnd = bytes.indexOf('\r\n\r\n', at);
    if (headEnd === -1) break;
    const [statusLine = '', ...lines] = bytes.subarray(at, headEnd).toString('latin1').split('\r\n');
    const status = /^HTTP\/1\.1 (\d{3})/.exec(statusLine);
    if (!status) break;
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const bodyEnd = headEnd + 4 + Number(headers['content-length'] ?? 0);
    if (bytes.length < bodyEnd) break;
    answers.push({ status: Number(status[1]), headers, body: bytes.subarray(headEnd + 4, bodyEnd).toString('utf8') });
    at = bodyEnd;
  }
  return { answers, rest: bytes.subarray(at).toString('latin1') };
}

/**
 * Sends `bytes` to the server of `url` and resolves once the server has closed the connection,
 * with every answer it sent. A connection the server keeps open keeps this pending, unless `end`
 * says the client is done sending after `bytes` (it half-closes, as a client that hangs up does).
 */
export function rawExchange(url: string, bytes: string | Buffer, { end = false } = {}): Promise<RawExchange> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      socket.destroy();
      resolve(parseAnswers(Buffer.concat(chunks)));
    });
    if (end) socket.end(bytes);
    else socket.write(bytes);
  });
}

/** The head of a WebSocket handshake to `path`, with `extra` header lines (each ending in CRLF). */
export function upgradeRequest(path: string, extra = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'): string {
  return `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
}
