/**
 * The one error shape of SPEC 4 for every failure the HTTP layer can meet: engine errors, request
 * validation, bad JSON, wrong content type, oversized bodies, malformed URLs, unknown routes and
 * wrong methods (5652). Bad input always gets a 4xx; only a fault of our own gets a 500 (5631), and its
 * cause goes to the log, never to the caller.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { Codes, errorBody, SequencerError, type ErrorDetail } from '../domain/errors.ts';

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] as const;

/** Fastify's own 4xx errors, with the message a caller should read. */
const FRAMEWORK_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Unsupported content type: send application/json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'Request body is too large',
  FST_ERR_CTP_INVALID_JSON_BODY: 'Request body is not valid JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'Request body is empty',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Content-Length does not match the body',
  FST_ERR_BAD_URL: 'Malformed URL',
  FST_ERR_MAX_PARAM_LENGTH: 'A path parameter is too long',
};

/** Sends a SequencerError as the SPEC 4 body with its HTTP status (and `Retry-After` in whole seconds, at least 1, when it has one). */
export function sendError(reply: FastifyReply, error: SequencerError): FastifyReply {
  if (error.retryAfterMs !== undefined) reply.header('retry-after', Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
  return reply.code(error.httpStatus).type('application/json').send(errorBody(error));
}

/** A 4xx for malformed input (code 5600) with one detail at `path`. */
export function malformed(status: number, message: string, path = ''): SequencerError {
  return new SequencerError(Codes.INVALID_DEFINITION, message, [{ path, code: Codes.INVALID_DEFINITION, message }], status);
}

/** A request for a route the server does not have (404), or not with this method (405): code 5652. */
export function noSuchRoute(status: 404 | 405, message: string): SequencerError {
  return new SequencerError(Codes.ROUTE_NOT_FOUND, message, [], status);
}

/** Maps any error thrown while handling a request to a SequencerError; unknown faults become 5631. */
export function toSequencerError(error: unknown, request: FastifyRequest): SequencerError {
  if (error instanceof SequencerError) return error;
  const err = error as FastifyError;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const details = validationDetails(err, err.validationContext ?? 'body');
    const summary = details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ');
    return new SequencerError(Codes.INVALID_DEFINITION, `Invalid request: ${summary}`, details, 422);
  }
  const status = typeof err?.statusCode === 'number' ? err.statusCode : 500;
  if (status >= 400 && status < 500) {
    const message = FRAMEWORK_MESSAGES[err.code] ?? (err.message || 'Malformed request');
    return malformed(status, message);
  }
  if (err instanceof SyntaxError) return malformed(400, FRAMEWORK_MESSAGES.FST_ERR_CTP_INVALID_JSON_BODY);
  request.log.error({ err: error }, 'request failed');
  return new SequencerError(Codes.INTERNAL_ERROR);
}

/** The zod issues of a validation error as SPEC 4 details; query and path parts are prefixed. */
function validationDetails(err: FastifyError, part: string): ErrorDetail[] {
  const prefix = part === 'body' ? '' : part === 'querystring' ? 'query' : part;
  return (err.validation ?? []).flatMap((issue) => {
    const base = pointerToPath(prefix, issue.instancePath);
    const keys = (issue.params as { keys?: unknown }).keys;
    if (issue.keyword === 'unrecognized_keys' && Array.isArray(keys)) {
      return keys.map((key) => ({ path: join(base, String(key)), code: Codes.INVALID_DEFINITION, message: 'unknown key' }));
    }
    return [{ path: base, code: Codes.INVALID_DEFINITION, message: issue.message ?? 'invalid value' }];
  });
}

/** `/steps/0/name` under `prefix` -> `prefix.steps[0].name`. */
function pointerToPath(prefix: string, pointer: string): string {
  let out = prefix;
  for (const segment of pointer.split('/')) {
    if (segment === '') continue;
    out = /^\d+$/.test(segment) ? `${out}[${segment}]` : join(out, segment);
  }
  return out;
}

function join(base: string, key: string): string {
  return base === '' ? key : `${base}.${key}`;
}

/** Fastify's `frameworkErrors` option: malformed URLs get the same body as everything else. */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  // This answer may go out before the upgrade listener sees the socket, which it then closes (socket-errors.ts).
  if (request.headers.upgrade !== undefined) reply.header('connection', 'close');
  sendError(reply, toSequencerError(error, request));
}

/** Installs the error and not-found handlers on the root instance. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    sendError(reply, toSequencerError(error, request));
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?', 1)[0] ?? request.url;
    const allowed = METHODS.filter((method) => method !== request.method && app.findRoute({ method, url: path }) !== null);
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      return sendError(reply, noSuchRoute(405, `Method ${request.method} is not allowed on ${path} (allowed: ${allowed.join(', ')})`));
    }
    return sendError(reply, noSuchRoute(404, `Route not found: ${request.method} ${path}`));
  });
}
