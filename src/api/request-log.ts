/**
 * What Fastify logs about requests (SPEC 12): one line per request at `debug` (method, URL, status,
 * milliseconds) instead of Fastify's two at `info`, so the default log carries the runs and not
 * every poll of `/health`. A request that failed inside Fastify still logs at `error`.
 */
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

/** Fastify's `logController`: requests at debug. */
export class DebugRequestLog extends LogController {
  /** The completed line says everything; nothing when a request comes in. */
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const fields = { method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 };
    if (error) reply.log.error({ ...fields, err: error }, 'request failed');
    else reply.log.debug(fields, 'request');
  }

  override routeNotFound(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: request.url }, 'route not found');
  }
}
