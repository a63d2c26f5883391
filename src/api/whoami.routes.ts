/**
 * `GET /api/v1/whoami`: the role of the caller's token, so a client (the operator console) shows
 * controls only to an operator instead of offering buttons that answer 403. A caller without a
 * valid token gets the auth hook's 401 before this route runs.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { TokenConfig } from '../config/server-config.ts';
import { roleOf } from './auth.ts';
import { bearerToken } from './auth.plugin.ts';

/** Options of the whoami route. */
export interface WhoamiRoutesOptions {
  tokens: readonly TokenConfig[];
}

/** Answer of `GET /whoami`. */
export const WhoamiResponseSchema = z.object({
  success: z.literal(true),
  role: z.enum(['viewer', 'operator']).describe('viewer: may read and watch; operator: may also act'),
  auth_required: z.boolean().describe('False when the server has no token configured (loopback only, everyone is an operator)'),
});

/** Registers `GET /whoami` (under the API prefix). */
export async function whoamiRoutes(app: FastifyInstance, { tokens }: WhoamiRoutesOptions): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get('/whoami', {
    schema: {
      tags: ['service'],
      summary: "The role of the caller's token",
      response: { 200: WhoamiResponseSchema },
    },
  }, async (request) => ({
    success: true as const,
    // The auth hook already refused an unknown token, so a role is always found here.
    role: roleOf(tokens, bearerToken(request.headers.authorization)) ?? 'viewer',
    auth_required: tokens.length > 0,
  }));
}
