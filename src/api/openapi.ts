/**
 * The OpenAPI document and its UI at `/docs` (SPEC 7), generated from the same zod schemas that
 * validate requests and shape responses. Register it before the routes: it collects them as they
 * are added.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';

/** Where the UI lives; the document itself is at `${DOCS_PREFIX}/json`. */
export const DOCS_PREFIX = '/docs';

/** Registers the OpenAPI generator and the UI. */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Sequencer',
        description:
          'Runs IoT automation sequences, one XState actor per run. Errors share one body: ' +
          '`{success:false, error:{code,name,message,details:[{path,code,message}]}}` (56xx codes).',
        version,
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
      tags: [
        { name: 'sequences', description: 'Start, watch and control runs' },
        { name: 'templates', description: 'Stored sequence templates with parameters' },
        { name: 'safety', description: 'Emergency stop' },
        { name: 'sim', description: 'Simulated ESP32 nodes (sim driver only)' },
        { name: 'service', description: 'Health and metrics' },
      ],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX });
}
