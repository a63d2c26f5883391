/**
 * What a stream client may say (SPEC 8) and which events it wants. Client messages are parsed with
 * one zod schema; a filter is compiled once into sets so matching an event is two lookups.
 */
import { z } from 'zod';
import { Codes, SequencerError } from '../domain/errors.ts';
import { formatPath } from '../domain/validate-definition.ts';
import { EVENT_TYPES, type EventEnvelope, type EventType } from './event-types.ts';

const FiltersSchema = z.strictObject({
  types: z.array(z.enum(EVENT_TYPES as [EventType, ...EventType[]])).max(EVENT_TYPES.length * 4).optional(),
  sequence_ids: z.array(z.string().min(1).max(100)).max(1000).optional(),
});

/** The filters of a `subscribe` message: an absent or empty list does not restrict. */
export type StreamFilters = z.infer<typeof FiltersSchema>;

/** A message a client sends on the stream. */
export const ClientMessageSchema = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('subscribe'), filters: FiltersSchema.default({}) }),
  z.strictObject({ action: z.literal('unsubscribe') }),
  z.strictObject({ action: z.literal('replay'), since: z.number().int().min(0) }),
]);
/** A parsed client message. */
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

/** Parses one client message; a malformed one yields a 5600 error that names what is wrong. */
export function parseClientMessage(raw: string): ClientMessage | SequencerError {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return new SequencerError(Codes.INVALID_DEFINITION, 'Client message is not valid JSON');
  }
  const result = ClientMessageSchema.safeParse(json);
  if (result.success) return result.data;
  // Paths as everywhere else in the API (`filters.types[0]`), an unknown key under its own path.
  const details = result.error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), code: Codes.INVALID_DEFINITION, message: 'unknown key' }));
    }
    return [{ path: formatPath(issue.path), code: Codes.INVALID_DEFINITION, message: issue.message }];
  });
  return new SequencerError(Codes.INVALID_DEFINITION, 'Invalid client message', details);
}

/** Decides which events a client receives. */
export interface StreamFilter {
  /** True when the event goes to the client. */
  matches(event: EventEnvelope): boolean;
}

/** Every event. */
const ALL_EVENTS: StreamFilter = { matches: () => true };

/** No event (after `unsubscribe`). */
export const NO_EVENTS: StreamFilter = { matches: () => false };

/**
 * Compiles `subscribe` filters. With `sequence_ids`, only events about those sequences pass, so
 * events that belong to no sequence (`emergency_stop`) need a subscription without `sequence_ids`.
 */
export function compileFilter(filters: StreamFilters): StreamFilter {
  const types = filters.types?.length ? new Set<string>(filters.types) : null;
  const ids = filters.sequence_ids?.length ? new Set(filters.sequence_ids) : null;
  if (!types && !ids) return ALL_EVENTS;
  return {
    matches(event) {
      if (types && !types.has(event.type)) return false;
      if (!ids) return true;
      const id = (event.data as { sequence_id?: string }).sequence_id;
      return id !== undefined && ids.has(id);
    },
  };
}

/** Parses the query filters of a connect URL (`?types=a,b&sequence_ids=x,y`); null when invalid. */
export function filtersFromQuery(query: { types?: string; sequence_ids?: string }): StreamFilters | null {
  const split = (value: string | undefined) => value?.split(',').filter(Boolean);
  const result = FiltersSchema.safeParse({ types: split(query.types), sequence_ids: split(query.sequence_ids) });
  return result.success ? result.data : null;
}
