/**
 * zod schemas of `POST /sequences/batch` (SPEC 7): many start bodies in one request, one answer
 * per item. The envelope is checked by zod; each item goes to the engine as `POST /sequences`
 * would send it, so an item's problems carry the engine's codes and paths.
 */
import { z, type ZodType } from 'zod';
import { EXAMPLE_DEFINITION, ErrorBodySchema } from './api.schemas.ts';

/** Most start bodies one batch may carry. */
export const MAX_BATCH_ITEMS = 1000;

/** What the server checks of a batch before looking at its items: an object with 1..1000 items. */
export const BatchEnvelopeSchema = z.strictObject({
  sequences: z.array(z.unknown()).min(1).max(MAX_BATCH_ITEMS),
});

/** The body of a batch as documented: each item is a start body (`startBody`). */
export function batchBodySchema(startBody: ZodType) {
  return z
    .strictObject({
      sequences: z
        .array(startBody)
        .min(1)
        .max(MAX_BATCH_ITEMS)
        .describe('Start bodies, each admitted or refused on its own, in this order'),
    })
    .meta({
      examples: [
        {
          sequences: [
            { ...EXAMPLE_DEFINITION, sequence_id: 'zone-1' },
            { sequence_id: 'zone-2', steps: [{ name: 'Water', delay_seconds: 5000 }] },
          ],
        },
      ],
    });
}

/** The answer to one item of a batch. */
export const BatchResultSchema = z.object({
  index: z.number().int().min(0).describe('Position of the item in `sequences`'),
  status: z.number().int().describe('The HTTP status `POST /sequences` would have answered: 202, or 4xx/5xx'),
  sequence_id: z.string().optional().describe('Admitted: as given, or generated (seq-<8 hex>)'),
  run_id: z.string().optional().describe('Admitted: the new run'),
  total_steps: z.number().int().min(1).optional(),
  run_status: z.enum(['running', 'pending']).optional().describe('Admitted: pending when it waits behind a run of the same sequence_id (mode queued or restart)'),
  error: ErrorBodySchema.shape.error.optional().describe('Refused: the error `POST /sequences` would have answered, its paths inside the item'),
});

/** 207 answer of `POST /sequences/batch`. */
export const BatchResponseSchema = z
  .object({ results: z.array(BatchResultSchema).describe('One per item, in the order of the request') })
  .describe('Every item answered on its own')
  .meta({
    examples: [
      {
        results: [
          { index: 0, status: 202, sequence_id: 'zone-1', run_id: 'run-0b6f2c1e-5d3a-4f8e-9c7b-2a1d4e6f8a90', total_steps: 3, run_status: 'running' },
          {
            index: 1,
            status: 422,
            error: {
              code: 5605,
              name: 'SEQ_INVALID_DELAY',
              message: 'Invalid sequence definition: Too big: expected number to be <=3600 (steps[0].delay_seconds)',
              details: [{ path: 'steps[0].delay_seconds', code: 5605, message: 'Too big: expected number to be <=3600' }],
            },
          },
        ],
      },
    ],
  });

/** One item's answer. */
export type BatchResult = z.infer<typeof BatchResultSchema>;
