/**
 * The sequence routes of SPEC 7 under `/api/v1`: start, validate, list, stats, get, snapshot,
 * definition, cancel, pause, resume, redrive, signal. They only translate HTTP to engine calls; the
 * engine owns every rule, and its SequencerErrors become the SPEC 4 body in the error handler.
 */
import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';
import type { FastifyRouteSchemaDef } from 'fastify/types/schema.js';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ZodType } from 'zod';
import { capDetails, Codes, errorBody, SequencerError } from '../domain/errors.ts';
import type { Services } from '../services.ts';
import {
  CancelBodySchema,
  CancelQuerySchema,
  CancelResponseSchema,
  DefinitionResponseSchema,
  errorResponses,
  IdParamsSchema,
  ListQuerySchema,
  PauseBodySchema,
  RedriveBodySchema,
  RedriveResponseSchema,
  ListResponseSchema,
  ProgressSchema,
  SignalBodySchema,
  SignalResponseSchema,
  SnapshotSchema,
  StartResponseSchema,
  startBodySchema,
  StatsResponseSchema,
  ValidateResponseSchema,
} from './api.schemas.ts';
import { BatchEnvelopeSchema, batchBodySchema, BatchResponseSchema, type BatchResult } from './batch.schemas.ts';
import { toSequencerError } from './error-handler.ts';
import { checkStartBody, startFromBody } from './start-body.ts';

/** Options of the sequence routes. */
export interface SequenceRoutesOptions {
  services: Services;
}

/**
 * Validates every part with zod except the body, which goes to the engine as sent: its validator
 * reports every definition problem with the right 56xx code and path, which a schema error cannot.
 */
export function definitionBodyToEngine<T>(route: FastifyRouteSchemaDef<T>): ReturnType<FastifySchemaCompiler<T>> {
  if (route.httpPart === 'body') return (data: unknown) => ({ value: data });
  return validatorCompiler(route as unknown as FastifyRouteSchemaDef<ZodType>);
}

/** As `definitionBodyToEngine` for a batch: zod checks the envelope (1..1000 items), the engine each item. */
function batchItemsToEngine<T>(route: FastifyRouteSchemaDef<T>): ReturnType<FastifySchemaCompiler<T>> {
  const schema = route.httpPart === 'body' ? BatchEnvelopeSchema : route.schema;
  return validatorCompiler({ ...route, schema } as unknown as FastifyRouteSchemaDef<ZodType>);
}

/**
 * Writes the answer of status `status` with JSON.stringify, other statuses through zod: the
 * handler builds that answer with exactly the documented fields (its schema still documents it in
 * the OpenAPI), so zod's pass over it would only check what the handler's types already hold. It
 * cost ~20 us of a start's CPU, and 1.6 % of a batch run's main thread.
 */
function ownAnswer(status: number) {
  return <T>(route: FastifyRouteSchemaDef<T>): ((data: unknown) => string) => {
    if (route.httpStatus === String(status)) return (data) => JSON.stringify(data);
    return serializerCompiler(route as unknown as Parameters<typeof serializerCompiler>[0]);
  };
}

function notFound(id: string, why = 'not found'): SequencerError {
  return new SequencerError(Codes.NOT_FOUND, `Sequence '${id}' ${why}`);
}

/** Registers the sequence routes. */
export async function sequenceRoutes(app: FastifyInstance, { services }: SequenceRoutesOptions): Promise<void> {
  const { engine } = services;
  const api = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['sequences'];
  const startBody = startBodySchema(engine.limits, engine.actionSchemas());

  api.post('/sequences', {
    schema: {
      tags,
      summary: 'Start a run of a sequence definition (answers at once)',
      body: startBody,
      response: { 202: StartResponseSchema, ...errorResponses(409, 422, 429, 403) },
    },
    validatorCompiler: definitionBodyToEngine,
    serializerCompiler: ownAnswer(202),
  }, async (request, reply) => {
    return reply.code(202).send(await startFromBody(engine, request.body));
  });

  api.post('/sequences/batch', {
    schema: {
      tags,
      summary: 'Start many runs in one request: each item admitted or refused on its own, in order, as POST /sequences would',
      body: batchBodySchema(startBody),
      response: { 207: BatchResponseSchema, ...errorResponses(422, 403) },
    },
    validatorCompiler: batchItemsToEngine,
    serializerCompiler: ownAnswer(207),
  }, async (request, reply) => {
    const { sequences } = request.body as { sequences: unknown[] };
    let retryAfterMs: number | undefined;
    const results: BatchResult[] = [];
    // One after the other: each item's start modes see the items before it.
    for (const [index, item] of sequences.entries()) {
      try {
        const started = await startFromBody(engine, item);
        results.push({ index, status: 202, sequence_id: started.sequence_id, run_id: started.run_id, total_steps: started.total_steps, run_status: started.status });
      } catch (error) {
        const refused = toSequencerError(error, request);
        if (refused.retryAfterMs !== undefined) retryAfterMs = Math.max(retryAfterMs ?? 0, refused.retryAfterMs);
        results.push({ index, status: refused.httpStatus, error: errorBody(refused).error });
      }
    }
    // A rules engine that was rate limited on some items learns when to send them again.
    if (retryAfterMs !== undefined) reply.header('retry-after', Math.max(1, Math.ceil(retryAfterMs / 1000)));
    return reply.code(207).send({ results });
  });

  api.post('/sequences/validate', {
    schema: {
      tags,
      summary: 'Check a definition without starting it; every problem with its code and path',
      body: startBody,
      response: { 200: ValidateResponseSchema },
    },
    validatorCompiler: definitionBodyToEngine,
  }, async (request) => {
    const { result, problems } = checkStartBody(engine, request.body);
    return {
      valid: problems.length === 0,
      errors: capDetails(problems),
      total_steps: result.ok ? result.definition.steps.length : 0,
      estimated_duration_seconds: result.ok ? result.estimatedSeconds : null,
    };
  });

  api.get('/sequences', {
    schema: {
      tags,
      summary: 'Runs, newest first, history included',
      querystring: ListQuerySchema,
      response: { 200: ListResponseSchema, ...errorResponses(422) },
    },
  }, async (request) => {
    const { limit, offset, status, running_only, sequence_id } = request.query;
    const page = await engine.list({ limit, offset, status, running_only, sequence_id });
    return { success: true as const, sequences: page.items, total: page.total, running: page.running, completed: page.completed, failed: page.failed, limit, offset };
  });

  api.get('/sequences/stats', {
    schema: { tags, summary: 'Aggregates over the last hour', response: { 200: StatsResponseSchema } },
  }, async () => ({ success: true as const, ...(await engine.stats()) }));

  api.get('/sequences/:id', {
    schema: {
      tags,
      summary: 'Progress of a run, by run_id or sequence_id (newest run)',
      params: IdParamsSchema,
      response: { 200: ProgressSchema, ...errorResponses(404) },
    },
  }, async (request) => {
    const progress = await engine.get(request.params.id);
    if (!progress) throw notFound(request.params.id);
    return progress;
  });

  api.get('/sequences/:id/snapshot', {
    schema: {
      tags,
      summary: "The run actor's persisted XState snapshot",
      params: IdParamsSchema,
      response: { 200: SnapshotSchema, ...errorResponses(404) },
    },
  }, async (request) => {
    const snapshot = await engine.snapshot(request.params.id);
    if (snapshot === null || snapshot === undefined) throw notFound(request.params.id, 'has no snapshot (it ended, or has not started yet)');
    return snapshot as Record<string, unknown>;
  });

  api.get('/sequences/:id/definition', {
    schema: {
      tags,
      summary: 'The definition a run was started with, as sent: running or ended, while its history is kept',
      params: IdParamsSchema,
      response: { 200: DefinitionResponseSchema, ...errorResponses(404) },
    },
  }, async (request) => {
    const found = await engine.definition(request.params.id);
    if (!found) throw notFound(request.params.id);
    return { success: true as const, ...found };
  });

  api.post('/sequences/:id/cancel', {
    schema: {
      tags,
      summary: 'Cancel a run; its cleanup steps and safe state follow',
      params: IdParamsSchema,
      querystring: CancelQuerySchema,
      body: CancelBodySchema,
      response: { 200: CancelResponseSchema, ...errorResponses(404, 409) },
    },
  }, async (request) => engine.cancel(request.params.id, request.body?.reason ?? request.query.reason));

  api.post('/sequences/:id/pause', {
    schema: {
      tags,
      summary: 'Pause a running run; its actuators are turned OFF until the resume (outputs: off, the default) or left as they are (hold)',
      params: IdParamsSchema,
      body: PauseBodySchema,
      response: { 200: ProgressSchema, ...errorResponses(404, 409, 422) },
    },
  }, async (request) => engine.pause(request.params.id, request.body?.outputs ?? 'off'));

  api.post('/sequences/:id/resume', {
    schema: { tags, summary: 'Resume a paused run', params: IdParamsSchema, response: { 200: ProgressSchema, ...errorResponses(404, 409) } },
  }, async (request) => engine.resume(request.params.id));

  api.post('/sequences/:id/redrive', {
    schema: {
      tags,
      summary: 'Run a run that ended failed or timeout again from the step that failed (or from_step): a new run of the same definition',
      params: IdParamsSchema,
      body: RedriveBodySchema,
      response: { 202: RedriveResponseSchema, ...errorResponses(404, 409, 422, 429, 403) },
    },
  }, async (request, reply) => reply.code(202).send(await engine.redrive(request.params.id, request.body?.from_step)));

  api.post('/sequences/:id/signal', {
    schema: {
      tags,
      summary: 'Send a run a signal: it keeps it until it ends, so a wait for it, now or later, holds',
      params: IdParamsSchema,
      body: SignalBodySchema,
      response: { 200: SignalResponseSchema, ...errorResponses(404, 409, 422) },
    },
  }, async (request) => engine.signal(request.params.id, request.body.name, request.body.data));
}
