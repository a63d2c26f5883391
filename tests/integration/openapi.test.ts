/**
 * The OpenAPI document at `/docs/json` as a person trying the API meets it: every action type with
 * its fields and an example, a `POST /sequences` example that starts a run as it is, response
 * examples that are what the server answers (a batch example too), and 401/403/429 wherever the server can answer them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ProgressSchema, StartResponseSchema, ValidateResponseSchema } from '../../src/api/api.schemas.ts';
import { BatchResponseSchema } from '../../src/api/batch.schemas.ts';
import { testApp, type TestApp } from './api-harness.ts';

type Doc = { paths: Record<string, Record<string, Operation>> };
type Operation = { requestBody?: { content: Record<string, Media> }; responses: Record<string, { description: string; content?: Record<string, Media> }> };
type Media = { schema: Record<string, any>; example?: unknown };

let t: TestApp | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

async function documented(options: Parameters<typeof testApp>[0] = {}): Promise<Doc> {
  t = await testApp(options);
  return (await t.inject({ method: 'GET', url: '/docs/json' })).json() as Doc;
}

const json = (media: Media | undefined) => media as Media;

describe('the OpenAPI document', () => {
  it('documents the action as one of the registered action types, each with its fields and an example that validates', async () => {
    const doc = await documented();
    const body = json(doc.paths['/api/v1/sequences']?.post?.requestBody?.content['application/json']);
    const options = body.schema.properties.steps.items.properties.action.oneOf as Record<string, any>[];
    const schemas = (t as TestApp).services.engine.actionSchemas();
    expect(options).toHaveLength(schemas.length);
    expect(options.map((option) => option.title)).toEqual(['actuator_command', 'delay', 'notification', 'sequence', 'repeat']);
    for (const [index, option] of options.entries()) {
      expect(option.description).toEqual(expect.any(String));
      expect(Object.keys(option.properties)).toContain('type');
      expect(Object.keys(option.properties).length).toBeGreaterThan(2);
      // The example of each type is a valid action of that type.
      expect((schemas[index] as z.ZodType).safeParse(option.examples[0]).success).toBe(true);
    }
    expect(options[0]?.properties.gpio).toMatchObject({ type: 'integer', minimum: 0, maximum: 39, description: expect.any(String) });
  });

  it('offers an example definition on POST /sequences that starts a run as it is', async () => {
    const doc = await documented();
    const example = json(doc.paths['/api/v1/sequences']?.post?.requestBody?.content['application/json']).example as Record<string, unknown>;
    expect(example).toMatchObject({ steps: expect.any(Array) });
    const app = t as TestApp;
    const validated = await app.inject({ method: 'POST', url: '/api/v1/sequences/validate', payload: example });
    expect(validated.json()).toMatchObject({ valid: true, errors: [] });
    const started = await app.inject({ method: 'POST', url: '/api/v1/sequences', payload: example });
    expect(started.statusCode).toBe(202);
    const { run_id } = started.json() as { run_id: string };
    expect((await app.ended(run_id)).data.status).toBe('completed');
  });

  it('offers an example batch that the server answers as its example answer says', async () => {
    const doc = await documented();
    const batch = doc.paths['/api/v1/sequences/batch']?.post as Operation;
    const example = json(batch.requestBody?.content['application/json']).example as Record<string, unknown>;
    const answered = await (t as TestApp).inject({ method: 'POST', url: '/api/v1/sequences/batch', payload: example });
    const documentedAnswer = BatchResponseSchema.parse(json(batch.responses['207']?.content?.['application/json']).example);
    const strip = ({ run_id: _, ...rest }: Record<string, unknown>) => rest;
    expect([answered.statusCode, answered.json().results.map(strip)]).toEqual([207, documentedAnswer.results.map(strip)]);
  });

  it('shows response examples the server could send, and no integer bound of ±2^53', async () => {
    const doc = await documented();
    expect(JSON.stringify(doc)).not.toContain('9007199254740991');
    const start = doc.paths['/api/v1/sequences']?.post as Operation;
    expect(StartResponseSchema.parse(json(start.responses['202']?.content?.['application/json']).example)).toMatchObject({ total_steps: 3 });
    const validate = doc.paths['/api/v1/sequences/validate']?.post as Operation;
    const examples = validate.responses['200']?.content?.['application/json'] as unknown as { examples: Record<string, { value: unknown }> };
    for (const { value } of Object.values(examples.examples)) expect(ValidateResponseSchema.safeParse(value).success).toBe(true);
    const progress = doc.paths['/api/v1/sequences/{id}']?.get as Operation;
    expect(ProgressSchema.parse(json(progress.responses['200']?.content?.['application/json']).example)).toMatchObject({ status: 'completed', total_steps: 3 });
    const refused = json(start.responses['422']?.content?.['application/json']);
    expect(refused.example).toMatchObject({ success: false, error: { code: 5605, details: [{ path: 'steps[1].delay_seconds' }] } });
  });

  it('documents 401, 403 and 429 exactly where the server answers them', async () => {
    const operator = 'doc-operator';
    const viewer = 'doc-viewer';
    const doc = await documented({ tokens: [{ token: operator, role: 'operator' }, { token: viewer, role: 'viewer' }], rate_limits: { starts_per_second: 1, commands_per_second: 0, commands_per_esp_per_second: 0 } });
    const app = t as TestApp;
    let checked = 0;
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const url = path.replace(/\{[^}]+\}/g, 'x');
        const statuses = Object.keys(operation.responses);
        const anonymous = await app.inject({ method: method.toUpperCase() as 'GET', url });
        expect([`${method} ${path}`, anonymous.statusCode === 401]).toEqual([`${method} ${path}`, statuses.includes('401')]);
        const asViewer = await app.inject({ method: method.toUpperCase() as 'GET', url, headers: { authorization: `Bearer ${viewer}` } });
        expect([`${method} ${path}`, asViewer.statusCode === 403]).toEqual([`${method} ${path}`, statuses.includes('403')]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(15);
    // Starts are rate limited: the second start within the second gets 429, as documented.
    const start = (payload: Record<string, unknown>) => app.inject({ method: 'POST', url: '/api/v1/sequences', payload, headers: { authorization: `Bearer ${operator}` } });
    expect(Object.keys(doc.paths['/api/v1/sequences']?.post?.responses ?? {})).toContain('429');
    expect(Object.keys(doc.paths['/api/v1/sequence-templates/{name}/start']?.post?.responses ?? {})).toContain('429');
    expect((await start({ steps: [{ delay_seconds: 0 }] })).statusCode).toBe(202);
    expect((await start({ steps: [{ delay_seconds: 0 }] })).statusCode).toBe(429);
  });
});
