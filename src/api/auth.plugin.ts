/**
 * Bearer-token auth of the REST API (SPEC 7): a viewer may read (GET, HEAD), an operator may do
 * everything. 401 without a valid token, 403 for a viewer that tries to control; both in the
 * SPEC 4 body, with code 5650 (no valid token) and 5651 (the role does not allow it). `/health`, `/docs` and the
 * console's page and assets stay open (load balancers, people reading the API, a browser that has
 * not been given a token yet: the page holds no data and asks for one); the WebSocket routes check `?token=`
 * themselves so that a refused socket gets close code 4001 rather than an HTTP answer.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { TokenConfig } from '../config/server-config.ts';
import { roleOf } from './auth.ts';
import { isConsoleRoute } from './console.plugin.ts';
import { Codes, SequencerError } from '../domain/errors.ts';
import { sendError } from './error-handler.ts';

/** Options of the auth hook. */
export interface AuthPluginOptions {
  tokens: readonly TokenConfig[];
}

/** Routes anyone may call. */
const OPEN_ROUTES = new Set(['/health']);
/** Routes that authenticate their own callers (the WebSocket stream). */
const SELF_AUTH_ROUTES = new Set(['/api/v1/ws', '/ws/realtime/:client_id']);
const READ_METHODS = new Set(['GET', 'HEAD']);

/** True for a route (as registered, `/sequences/:id`) that answers without a token. */
export function isOpenRoute(route: string): boolean {
  return OPEN_ROUTES.has(route) || SELF_AUTH_ROUTES.has(route) || route === '/docs' || route.startsWith('/docs/') || isConsoleRoute(route);
}

/** True for a method a viewer token may use. */
export function isReadMethod(method: string): boolean {
  return READ_METHODS.has(method.toUpperCase());
}

function isOpen(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  return route !== undefined && isOpenRoute(route);
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match ? (match[1] as string) : null;
}

/** A request refused for its token, located at the header that carries it. */
function refused(code: number, message: string): SequencerError {
  return new SequencerError(code, message, [{ path: 'headers.authorization', code, message }]);
}

async function auth(app: FastifyInstance, options: AuthPluginOptions): Promise<void> {
  if (options.tokens.length === 0) return;
  app.addHook('onRequest', async (request, reply) => {
    if (isOpen(request)) return;
    const role = roleOf(options.tokens, bearerToken(request.headers.authorization));
    if (role === null) {
      reply.header('www-authenticate', 'Bearer');
      return sendError(reply, refused(Codes.UNAUTHORIZED, 'Missing or invalid bearer token'));
    }
    if (role === 'viewer' && !isReadMethod(request.method)) {
      return sendError(reply, refused(Codes.FORBIDDEN, `A viewer token may only read; ${request.method} needs an operator token`));
    }
  });
}

/** The auth hook, applied to every route of the app (not encapsulated). */
export const authPlugin = fp(auth, { name: 'sequencer-auth' });
