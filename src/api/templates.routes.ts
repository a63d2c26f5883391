/**
 * Sequence template routes of SPEC 7 under `/api/v1`: PUT/GET/DELETE `/sequence-templates/{name}`,
 * GET `/sequence-templates`, and POST `/sequence-templates/{name}/start`, which fills the template
 * with `params`, validates it and starts it like `POST /sequences`. The template service owns every
 * rule; its SequencerErrors become the SPEC 4 body in the error handler.
 */
import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z, type ZodType } from 'zod';
import type { Services } from '../services.ts';
import { TemplateBodySchema, TemplateNameParamsSchema, TemplateStartSchema } from '../templates/template.schema.ts';
import { errorResponses, StartResponseSchema } from './api.schemas.ts';

/** Options of the template routes. */
export interface TemplateRoutesOptions {
  services: Services;
}

const TemplateRefSchema = z.object({ name: z.string(), version: z.number().int() });

const StoredResponseSchema = z.object({
  success: z.literal(true),
  name: z.string(),
  version: z.number().int().describe('1 when created; one more on each PUT'),
  updated_at: z.string(),
});

const TemplateResponseSchema = StoredResponseSchema.extend({
  template: z.unknown().describe('The template body as PUT'),
});

const ParamSpecViewSchema = z.looseObject({ type: z.string(), required: z.boolean().optional() });

const ListResponseSchema = z.object({
  success: z.literal(true),
  templates: z.array(
    z.object({
      name: z.string(),
      version: z.number().int(),
      updated_at: z.string(),
      description: z.string().nullable(),
      params: z.record(z.string(), ParamSpecViewSchema),
    }),
  ),
  total: z.number().int(),
});

const DeleteResponseSchema = z.object({ success: z.literal(true), message: z.string() });

const TemplateStartResponseSchema = StartResponseSchema.extend({ template: TemplateRefSchema });

/**
 * Validates every part with zod except a PUT body, which goes to the template service as sent: it
 * reports each problem with its 56xx code (5618 for a cycle) and the path inside the template.
 */
function templateBodyToService<S>(route: Parameters<FastifySchemaCompiler<S>>[0]): ReturnType<FastifySchemaCompiler<S>> {
  return route.httpPart === 'body' ? (data: unknown) => ({ value: data }) : validatorCompiler(route as Parameters<FastifySchemaCompiler<ZodType>>[0]);
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Registers `/sequence-templates` routes (under the API prefix). */
export async function templateRoutes(app: FastifyInstance, { services }: TemplateRoutesOptions): Promise<void> {
  const { engine, templates } = services;
  const api = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['templates'];

  api.get('/sequence-templates', {
    schema: { tags, summary: 'Every template with its version and parameters, by name', response: { 200: ListResponseSchema } },
  }, async () => {
    const list = templates.list();
    return { success: true as const, templates: list, total: list.length };
  });

  api.put('/sequence-templates/:name', {
    schema: {
      tags,
      summary: 'Create or replace a template; checked first (parameters, placeholders, nested calls, no cycle)',
      params: TemplateNameParamsSchema,
      body: TemplateBodySchema,
      response: { 200: StoredResponseSchema, 201: StoredResponseSchema, ...errorResponses(422) },
    },
    validatorCompiler: templateBodyToService,
  }, async (request, reply) => {
    const stored = await templates.put(request.params.name, request.body as unknown);
    return reply.code(stored.version === 1 ? 201 : 200).send({ success: true as const, name: stored.name, version: stored.version, updated_at: iso(stored.updated_at) });
  });

  api.get('/sequence-templates/:name', {
    schema: { tags, summary: 'A template as stored, with its version', params: TemplateNameParamsSchema, response: { 200: TemplateResponseSchema, ...errorResponses(404) } },
  }, async (request) => {
    const stored = templates.get(request.params.name);
    return { success: true as const, name: stored.name, version: stored.version, updated_at: iso(stored.updated_at), template: stored.body };
  });

  api.delete('/sequence-templates/:name', {
    schema: { tags, summary: 'Delete a template (runs started from it go on)', params: TemplateNameParamsSchema, response: { 200: DeleteResponseSchema, ...errorResponses(404) } },
  }, async (request) => {
    await templates.delete(request.params.name);
    return { success: true as const, message: `Template '${request.params.name}' deleted` };
  });

  api.post('/sequence-templates/:name/start', {
    schema: {
      tags,
      summary: 'Fill a template with params, validate it and start it like POST /sequences (answers at once)',
      params: TemplateNameParamsSchema,
      body: TemplateStartSchema.nullish(),
      response: { 202: TemplateStartResponseSchema, ...errorResponses(403, 404, 409, 422, 429) },
    },
  }, async (request, reply) => {
    const instance = templates.instantiate(request.params.name, request.body?.params ?? {});
    const started = await engine.admit(instance.definition, { context: request.body?.context, template: instance.template, sent: instance.sent });
    return reply.code(202).send({ ...started, template: instance.template });
  });
}
