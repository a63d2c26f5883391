/**
 * The OpenAPI document and its UI at `/docs` (SPEC 7), generated from the same zod schemas that
 * validate requests and shape responses. Register it before the routes: it collects them as they
 * are added. On top of what each route declares, every route that needs a token documents 401, and
 * every one that changes something 403 (a viewer token); and integers lose zod's safe-integer
 * bounds, which say nothing and made the UI's examples read `-9007199254740991`.
 */
import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { errorResponses } from './api.schemas.ts';
import { isOpenRoute, isReadMethod } from './auth.plugin.ts';

/** Where the UI lives; the document itself is at `${DOCS_PREFIX}/json`. */
export const DOCS_PREFIX = '/docs';

type Transform = NonNullable<FastifyDynamicSwaggerOptions['transform']>;
type TransformInput = Parameters<Transform>[0];

/** Adds 401 to a route that needs a token and 403 to one a viewer may not call, unless the route says them itself. */
function withAuthResponses(input: TransformInput): TransformInput {
  const { schema, url, route } = input;
  if (!schema || schema.hide || isOpenRoute(url)) return input;
  const methods = [route.method].flat();
  const statuses = methods.every(isReadMethod) ? [401] : [401, 403];
  return { ...input, schema: { ...schema, response: { ...errorResponses(...statuses), ...(schema.response as object | undefined) } } };
}

/** Removes `minimum`/`maximum` that only repeat the safe-integer range zod gives every `.int()`. */
function withoutSafeIntegerBounds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSafeIntegerBounds);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if ((key === 'minimum' && item === Number.MIN_SAFE_INTEGER) || (key === 'maximum' && item === Number.MAX_SAFE_INTEGER)) continue;
    out[key] = withoutSafeIntegerBounds(item);
  }
  return out;
}

const transform: Transform = (input) => {
  const { schema, url } = jsonSchemaTransform(withAuthResponses(input) as Parameters<typeof jsonSchemaTransform>[0]);
  return { schema: withoutSafeIntegerBounds(schema) as typeof schema, url };
};

/** Registers the OpenAPI generator and the UI. */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Sequencer',
        description:
          'Runs IoT automation sequences, one XState actor per run. Errors share one body: ' +
          '`{success:false, error:{code,name,message,details:[{path,code,message}]}}` (56xx codes). ' +
          'With tokens configured, every route but `/health` needs `Authorization: Bearer <token>` (401 without); ' +
          'a viewer token may only read (403 on the rest). The example of `POST /sequences` runs as it is against the sim driver.',
        version,
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
      tags: [
        { name: 'sequences', description: 'Start, watch and control runs' },
        { name: 'templates', description: 'Stored sequence templates with parameters' },
        { name: 'safety', description: 'Emergency stop' },
        { name: 'devices', description: 'The ESP32 nodes the driver knows: presence, safe mode, actuators' },
        { name: 'sim', description: 'Simulated ESP32 nodes (sim driver only)' },
        { name: 'service', description: 'Health and metrics' },
      ],
    },
    transform,
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX });
}
