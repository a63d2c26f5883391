/**
 * Builds the HTTP app of a server (SPEC 7 and 8) on top of its services, without listening:
 * zod validation and serialisation, the OpenAPI UI, auth, one error shape, the routes under
 * `/api/v1`, the WebSocket stream, `/health`, `/metrics` and the operator console at `/`. `server.ts` listens; tests inject.
 */
import { isUtf8 } from 'node:buffer';
import Fastify, { type FastifyBaseLogger, type FastifyBodyParser, type FastifyInstance, type onSendAsyncHookHandler } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import packageJson from '../../package.json' with { type: 'json' };
import { Codes, errorBody, SequencerError } from '../domain/errors.ts';
import type { Engine } from '../engine/engine.ts';
import type { Services } from '../services.ts';
import { authPlugin } from './auth.plugin.ts';
import { backupRoutes } from './backup.routes.ts';
import { drainUnreadBodies } from './body-drain.ts';
import { consolePlugin, type ConsolePluginOptions } from './console.plugin.ts';
import { devicesRoutes } from './devices.routes.ts';
import { emergencyRoutes } from './emergency.routes.ts';
import { frameworkErrors, malformed, registerErrorHandling, sendError } from './error-handler.ts';
import { healthRoutes, type Lifecycle } from './health.routes.ts';
import { metricsRoutes } from './metrics.routes.ts';
import { registerOpenApi } from './openapi.ts';
import { DebugRequestLog } from './request-log.ts';
import { sequenceRoutes } from './sequences.routes.ts';
import { answerRawSocketErrors, clientErrorHandler } from './socket-errors.ts';
import { sensorsRoutes } from './sensors.routes.ts';
import { simRoutes } from './sim.routes.ts';
import { statechartRoutes } from './statechart.routes.ts';
import { templateRoutes } from './templates.routes.ts';
import { whoamiRoutes } from './whoami.routes.ts';
import { wsPlugin } from './ws.plugin.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The app's phase; `server.ts` sets `draining` when it starts to shut down. */
    lifecycle: Lifecycle;
  }
}

/** Options of the app; every field has a default. */
export interface BuildAppOptions {
  /** Largest request body in bytes (default 1 MiB: a 50-step definition is a few KiB). */
  bodyLimit?: number;
  /** Where the operator console is served from (default: `dist/console`, built by `npm install`). */
  console?: ConsolePluginOptions;
}

/** Default largest request body. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** Base path of the REST API. */
export const API_PREFIX = '/api/v1';

const READ_METHODS = new Set(['GET', 'HEAD']);

/** Deepest nesting of a JSON body: a definition needs about 20, and deeper values break serialisers later. */
export const MAX_JSON_DEPTH = 64;

/**
 * True when a parsed JSON value nests deeper than `max`. Recursive but bounded: it never goes
 * more than `max` + 1 calls deep, whatever the input, and allocates nothing per value.
 */
function nestsDeeperThan(value: unknown, max: number, depth = 1): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (depth > max) return true;
  if (Array.isArray(value)) {
    for (const child of value) if (nestsDeeperThan(child, max, depth + 1)) return true;
    return false;
  }
  for (const key in value) if (nestsDeeperThan((value as Record<string, unknown>)[key], max, depth + 1)) return true;
  return false;
}

/**
 * JSON bodies as Fastify parses them (prototype poisoning refused), except that an empty body is no
 * body, a body that is not valid UTF-8 is refused with 400 (decoding would silently turn its bad
 * bytes into U+FFFD inside names and ids), and a body nested deeper than MAX_JSON_DEPTH is refused
 * with 400.
 */
function jsonOrNothing(app: FastifyInstance): FastifyBodyParser<Buffer> {
  const parse = app.getDefaultJsonParser('error', 'error');
  return (request, body, done) => {
    if (body.length === 0) return done(null, undefined);
    if (!isUtf8(body)) return done(malformed(400, 'Request body is not valid UTF-8'), undefined);
    parse(request, body.toString('utf8'), (error, value) => {
      if (error) return done(error, undefined);
      if (nestsDeeperThan(value, MAX_JSON_DEPTH)) return done(malformed(400, `Request body is nested deeper than ${MAX_JSON_DEPTH} levels`), undefined);
      done(null, value);
    });
  };
}

/**
 * Holds each successful answer to a request that may change state (anything but GET and HEAD)
 * until the changes made so far are committed (SPEC 11): a client told 202 never hears of a run a
 * crash then forgets. Requests of one turn share the commit. When the commit fails, the answer
 * becomes 500/5631 (the runs it held are ended failed with 5631 meanwhile).
 */
function durableAnswers(engine: Engine): onSendAsyncHookHandler<unknown> {
  return async (request, reply, payload) => {
    if (READ_METHODS.has(request.method) || reply.statusCode >= 400) return payload;
    try {
      await engine.whenDurable();
      return payload;
    } catch (error) {
      request.log.error({ err: error }, 'the change could not be stored');
      reply.code(500).type('application/json');
      return JSON.stringify(errorBody(new SequencerError(Codes.INTERNAL_ERROR, 'The change could not be stored')));
    }
  };
}

/** Builds the app. Nothing listens until the caller does. */
export async function buildApp(services: Services, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    // The server's one logger; requests at debug, not at Fastify's info.
    loggerInstance: services.logger as FastifyBaseLogger,
    logController: new DebugRequestLog(),
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    frameworkErrors,
    clientErrorHandler,
    // The health route answers 503 `draining` itself, in the one body shape.
    return503OnClosing: false,
  });
  const lifecycle: Lifecycle = { phase: 'starting', startedAt: Date.now() };
  app.decorate('lifecycle', lifecycle);
  app.addHook('onReady', async () => {
    lifecycle.phase = 'ready';
  });
  app.addHook('preClose', async () => {
    lifecycle.phase = 'draining';
  });

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // JSON only: anything else is a 415 rather than a string the routes would have to reject.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, jsonOrNothing(app));
  registerErrorHandling(app);
  drainUnreadBodies(app);

  // Stop intake while draining: reads go on, anything that would change state is refused.
  app.addHook('onRequest', async (request, reply) => {
    if (lifecycle.phase === 'draining' && !READ_METHODS.has(request.method)) {
      return sendError(reply, new SequencerError(Codes.TASK_CREATION_FAILED, 'The server is shutting down', [], 503));
    }
  });
  app.addHook('onSend', durableAnswers(services.engine));
  await app.register(authPlugin, { tokens: services.config.tokens });
  await registerOpenApi(app, packageJson.version);

  await app.register(healthRoutes, { services, lifecycle });
  await app.register(metricsRoutes, { metrics: services.metrics });
  await app.register(
    async (api) => {
      await api.register(sequenceRoutes, { services });
      if (services.sim) await api.register(simRoutes, { sim: services.sim });
      await api.register(devicesRoutes, { services });
      await api.register(sensorsRoutes, { sensors: services.sensors });
      await api.register(templateRoutes, { services });
      await api.register(emergencyRoutes, { services });
      await api.register(backupRoutes, { services });
      await api.register(statechartRoutes);
      await api.register(whoamiRoutes, { tokens: services.config.tokens });
    },
    { prefix: API_PREFIX },
  );
  const upgrades = answerRawSocketErrors(app);
  await app.register(wsPlugin, { services, upgrades });
  await app.register(consolePlugin, options.console ?? {});
  return app;
}
