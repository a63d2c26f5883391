/**
 * zod schemas of the REST API (SPEC 7): requests and responses. They validate requests, shape
 * responses and generate the OpenAPI document at `/docs`. Definitions reuse the domain schemas, so
 * what `/docs` shows is what the engine checks.
 */
import { z, type ZodType } from 'zod';
import { documentedDefinitionSchema, RunContextSchema, type DefinitionLimits } from '../domain/definition.schema.ts';
import { SignalNameSchema } from '../conditions/condition.schema.ts';

/** One problem, located by its JSON path. */
export const ErrorDetailSchema = z.object({
  path: z.string(),
  code: z.number().int(),
  message: z.string(),
});

/** The one error body of SPEC 4. */
export const ErrorBodySchema = z
  .object({
    success: z.literal(false),
    error: z.object({
      code: z.number().int().describe('56xx code (SPEC 4)'),
      name: z.string().describe('Name of the code, e.g. SEQ_INVALID_DELAY'),
      message: z.string(),
      details: z.array(ErrorDetailSchema).describe('Every problem, at most 100; past 100, a last entry counts the rest'),
    }),
  })
  .describe('Every HTTP error answers with this body')
  .meta({
    examples: [
      {
        success: false,
        error: {
          code: 5605,
          name: 'SEQ_INVALID_DELAY',
          message: 'Invalid sequence definition: Too big: expected number to be <=3600 (steps[1].delay_seconds)',
          details: [{ path: 'steps[1].delay_seconds', code: 5605, message: 'Too big: expected number to be <=3600' }],
        },
      },
    ],
  });

/** What each error status means, as the OpenAPI document describes it. */
const ERROR_MEANINGS: Record<number, string> = {
  400: 'Malformed request: not JSON, or nested too deep (5600)',
  401: 'Missing or invalid bearer token, only when the server has tokens (5650)',
  403: 'A viewer token where an operator token is needed (5651), or refused by the safety system (5642: emergency stop, safety policy)',
  404: 'No such run, sequence or template (5611); no such route (5652)',
  409: 'Not allowed in the current state: a run of this sequence_id is running, the queue is full, the concurrency limit is reached (5610), or the run has ended or is not paused (5619)',
  422: 'Invalid: every problem with its 56xx code and JSON path',
  429: 'Too many starts per second (5641); the Retry-After header says when to try again',
  501: 'Not possible with this server (its store)',
  503: 'The server is shutting down',
};

const ERROR_RESPONSES = new Map(Object.entries(ERROR_MEANINGS).map(([status, meaning]) => [Number(status), ErrorBodySchema.meta({ ...ErrorBodySchema.meta(), description: meaning })]));

/** Response schemas of error statuses for a route's `response`, each the one error body with what the status means. */
export function errorResponses(...statuses: number[]): Record<number, ZodType> {
  return Object.fromEntries(statuses.map((status) => [status, ERROR_RESPONSES.get(status) ?? ErrorBodySchema]));
}

const RUN_STATUSES = ['pending', 'running', 'paused', 'stopping', 'completed', 'failed', 'cancelled', 'timeout'] as const;

/** Status of a run (SPEC 5). */
export const RunStatusSchema = z.enum(RUN_STATUSES);

const StepResultSchema = z.object({
  step_index: z.number().int(),
  step_name: z.string(),
  success: z.boolean(),
  skipped: z.boolean().default(false).describe("The step's `when` did not hold: it did not run (a success; its message says why); absent in results stored before it existed"),
  message: z.string(),
  error_code: z.number().int().nullable(),
  started_at: z.string(),
  completed_at: z.string(),
  duration_ms: z.number(),
  retries: z.number().int(),
});

/** A run of the documentation's example definition, completed: the progress the server answers for it. */
function progressExample() {
  const step = (step_index: number, step_name: string, message: string, started_at: string, completed_at: string, duration_ms: number) =>
    ({ step_index, step_name, success: true, skipped: false, message, error_code: null, started_at, completed_at, duration_ms, retries: 0 });
  return {
    sequence_id: 'zone-1',
    run_id: 'run-b9318ede-5779-447a-8c31-23caf957b358',
    rule_id: null,
    rule_name: 'Morning watering',
    description: 'Water zone 1: open the valve, wait 2 s, close it',
    status: 'completed',
    state: 'completed',
    current_step: 3,
    total_steps: 3,
    progress_percent: 100,
    current_step_name: null,
    failed_step: null,
    ending_as: null,
    safe_state: 'not_needed',
    safe_state_at: null,
    queued_at: null,
    started_at: '2026-12-02T06:00:00.000Z',
    completed_at: '2026-12-02T06:00:02.010Z',
    duration_seconds: 2.01,
    estimated_completion: null,
    step_results: [
      step(0, 'Open valve', 'ESP_12AB34CD gpio 5 ON ok', '2026-12-02T06:00:00.000Z', '2026-12-02T06:00:00.008Z', 8),
      step(1, 'Water', 'Waited 2 s', '2026-12-02T06:00:00.008Z', '2026-12-02T06:00:02.009Z', 2001),
      step(2, 'Close valve', 'ESP_12AB34CD gpio 5 OFF ok', '2026-12-02T06:00:02.009Z', '2026-12-02T06:00:02.010Z', 1),
    ],
    cleanup_results: [],
    error: null,
    error_code: null,
    context: { rule_id: null, rule_name: 'Morning watering', triggered_by: 'operator', trigger_data: null },
    mode: 'single',
    template: null,
    node: null,
    redrive_of: null,
  };
}

/** The progress object of SPEC 5. */
export const ProgressSchema = z.object({
  sequence_id: z.string(),
  run_id: z.string(),
  rule_id: z.string().nullable(),
  rule_name: z.string().nullable(),
  description: z.string().nullable(),
  status: RunStatusSchema,
  state: z.string().describe('The XState state value as a dotted string, e.g. running.executing'),
  current_step: z.number().int(),
  total_steps: z.number().int(),
  progress_percent: z.number(),
  current_step_name: z.string().nullable(),
  failed_step: z.number().int().nullable().describe('The step whose failure ended the run, or that was in flight when it ended early (zero-based)'),
  ending_as: z.enum(['failed', 'cancelled', 'timeout']).nullable().describe('While stopping: the status the run ends with once its cleanup and safe state are done'),
  safe_state: z
    .enum(['not_needed', 'reached', 'failed'])
    .nullable()
    .describe('Once ended: not_needed (completed, or held no actuator), reached (every actuator it held confirmed OFF), failed (a safety_alert names the one that is not)'),
  safe_state_at: z.string().nullable().describe('When the safe state was reached or failed'),
  queued_at: z.string().nullable().describe('When the run was queued behind another run of its sequence_id (mode queued or restart); null when it started at once'),
  started_at: z.string().nullable().describe('When its first step began; the list is ordered by it (a queued run that has not started by queued_at)'),
  completed_at: z.string().nullable(),
  duration_seconds: z.number().nullable(),
  estimated_completion: z.string().nullable(),
  step_results: z.array(StepResultSchema),
  cleanup_results: z.array(StepResultSchema),
  error: z.string().nullable(),
  error_code: z.number().int().nullable(),
  context: z.object({
    rule_id: z.string().nullable(),
    rule_name: z.string().nullable(),
    triggered_by: z.string().nullable(),
    trigger_data: z.unknown(),
  }),
  mode: z.string(),
  template: z.object({ name: z.string(), version: z.number().int() }).nullable(),
  node: z.string().nullable().describe('The node that drives the run when several nodes share a PostgreSQL database (--node-id); null on a single node'),
  redrive_of: z.string().nullable().describe('The run this one redrives (POST /sequences/{id}/redrive): it began at that run\'s failed step or at from_step; the steps before count as done in progress_percent'),
}).meta({ examples: [progressExample()] });

/** The definition the documentation offers to try: it runs as it is against the sim driver (valve ON, 2 s, OFF). */
export const EXAMPLE_DEFINITION = {
  description: 'Water zone 1: open the valve, wait 2 s, close it',
  steps: [
    { name: 'Open valve', action: { type: 'actuator_command', esp_id: 'ESP_12AB34CD', gpio: 5, command: 'ON' }, timeout_seconds: 5 },
    { name: 'Water', delay_seconds: 2 },
    { name: 'Close valve', action: { type: 'actuator_command', esp_id: 'ESP_12AB34CD', gpio: 5, command: 'OFF' }, timeout_seconds: 5 },
  ],
  cleanup_steps: [{ name: 'Valve OFF', action: { type: 'actuator_command', esp_id: 'ESP_12AB34CD', gpio: 5, command: 'OFF' } }],
  context: { rule_name: 'Morning watering', triggered_by: 'operator' },
};

/**
 * The body of `POST /sequences` as documented: a definition whose `action` is one of the registered
 * action types (`actions`, each with its fields and an example), plus an optional `context`. The
 * route hands the body to the engine unparsed, so definition problems come back with the engine's
 * codes (5601..5618) and paths rather than a generic schema error.
 */
export function startBodySchema(limits: DefinitionLimits, actions: readonly ZodType[]) {
  // Every action schema is an object whose `type` names it; zod's types cannot see that in a list built at run time.
  const action = z.discriminatedUnion('type', actions as unknown as [z.ZodObject, ...z.ZodObject[]]);
  return documentedDefinitionSchema(limits, action)
    .extend({ context: RunContextSchema.optional() })
    .meta({ examples: [EXAMPLE_DEFINITION] });
}

/** 202 answer of `POST /sequences`. */
export const StartResponseSchema = z
  .object({
    success: z.literal(true),
    sequence_id: z.string().describe('As given, or generated (seq-<8 hex>)'),
    run_id: z.string(),
    total_steps: z.number().int().min(1),
    status: z.enum(['running', 'pending']).describe('pending: waiting behind a run of the same sequence_id (mode queued or restart)'),
  })
  .describe('Started (or queued): the run goes on after the answer')
  .meta({ examples: [{ success: true, sequence_id: 'seq-1a2b3c4d', run_id: 'run-0b6f2c1e-5d3a-4f8e-9c7b-2a1d4e6f8a90', total_steps: 3, status: 'running' }] });

/** Body of `POST /sequences/{id}/redrive` (SPEC 7). */
export const RedriveBodySchema = z
  .strictObject({
    from_step: z.number().int().min(0).optional().describe('The step (zero-based) to begin at; absent: the step that failed, or was in flight when the run timed out'),
  })
  .nullish();

/** Answer of `POST /sequences/{id}/redrive`: a start, naming the run it redrives. */
export const RedriveResponseSchema = StartResponseSchema.extend({ redrive_of: z.string().describe('The run this new run redrives') })
  .describe('A new run of the same definition that begins at the failed step (or from_step); it goes on after the answer')
  .meta({ examples: [{ success: true, sequence_id: 'irrigation-zone-1', run_id: 'run-5c0d7f1a-2b3e-4c5d-8e9f-0a1b2c3d4e5f', total_steps: 3, status: 'running', redrive_of: 'run-0b6f2c1e-5d3a-4f8e-9c7b-2a1d4e6f8a90' }] });

/** Answer of `POST /sequences/validate`. */
export const ValidateResponseSchema = z
  .object({
    valid: z.boolean(),
    errors: z.array(ErrorDetailSchema).describe('Every problem, at most 100; past 100, a last entry counts the rest'),
    total_steps: z.number().int().min(0),
    estimated_duration_seconds: z.number().nullable(),
  })
  .meta({
    examples: [
      { valid: true, errors: [], total_steps: 3, estimated_duration_seconds: 2 },
      { valid: false, errors: [{ path: 'steps[1].delay_seconds', code: 5605, message: 'Too big: expected number to be <=3600' }], total_steps: 0, estimated_duration_seconds: null },
    ],
  });

/** `true` / `false` / `1` / `0` in a query string. */
const queryBoolean = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/** Query of `GET /sequences`. */
export const ListQuerySchema = z.strictObject({
  running_only: queryBoolean.optional().describe('Only runs that have not ended'),
  status: RunStatusSchema.optional(),
  sequence_id: z.string().min(1).max(100).optional().describe('Only the runs of this sequence_id'),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

/** Answer of `GET /sequences`: newest first, history included. */
export const ListResponseSchema = z.object({
  success: z.literal(true),
  sequences: z.array(ProgressSchema),
  total: z.number().int().describe('Runs matching the query (all pages)'),
  running: z.number().int(),
  completed: z.number().int(),
  failed: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
});

/** Answer of `GET /sequences/stats`. */
export const StatsResponseSchema = z.object({
  success: z.literal(true),
  total_sequences: z.number().int(),
  running: z.number().int(),
  completed_last_hour: z.number().int(),
  failed_last_hour: z.number().int(),
  average_duration_seconds: z.number().nullable(),
  longest_sequence_id: z.string().nullable(),
  most_common_failure_step: z.string().nullable(),
});

/** Path parameter: a sequence_id or a run_id. */
export const IdParamsSchema = z.object({ id: z.string().min(1).max(200) });

/** Body of `POST /sequences/{id}/cancel` (the reason may come as `?reason=` instead). */
/** Body of `POST /sequences/{id}/pause` (SPEC 7): what happens to the actuators the run holds. */
export const PauseBodySchema = z
  .strictObject({
    outputs: z
      .enum(['off', 'hold'])
      .default('off')
      .describe('off (default): every actuator the run holds is turned OFF (leases kept) and back on resume, before the remaining time goes on; hold: left as they are'),
  })
  .nullish();

export const CancelBodySchema = z.strictObject({ reason: z.string().max(500).optional() }).nullish();

/** Query of `POST /sequences/{id}/cancel`. */
export const CancelQuerySchema = z.strictObject({ reason: z.string().max(500).optional() });

/** Answer of a cancel. */
export const CancelResponseSchema = z.object({ success: z.literal(true), message: z.string(), reason: z.string() });

/** Body of `POST /sequences/{id}/signal` (SPEC 7). */
export const SignalBodySchema = z
  .strictObject({
    name: SignalNameSchema.describe('What a `{signal: name}` condition of the run waits for'),
    data: z.unknown().optional().describe('Anything; published with the `sequence_signal` event'),
  })
  .meta({ examples: [{ name: 'tank_full', data: { level_cm: 182 } }] });

/** Answer of a signal. */
export const SignalResponseSchema = z.object({ success: z.literal(true), run_id: z.string(), name: z.string() });

/** The persisted XState snapshot of a run, as XState serialises it. */
export const SnapshotSchema = z.unknown().describe('The persisted XState snapshot (status, value, context, ...)');

/** Answer of `GET /sequences/{id}/definition`: the definition a run was started with, kept with its history. */
export const DefinitionResponseSchema = z.object({
  success: z.literal(true),
  run_id: z.string(),
  sequence_id: z.string(),
  definition: z
    .unknown()
    .describe('As its client sent it, with the sequence_id it ran under (defaults not filled in); null for a run whose history lost it'),
});

/** Path parameter of a simulated node. */
export const EspParamsSchema = z.object({ esp_id: z.string().min(1).max(64) });

/** Body of `PUT /sim/devices/{esp_id}` (SPEC 9). */
export const SimBehaviourSchema = z.strictObject({
  latency_ms: z.number().int().min(0).max(600_000).optional(),
  fail: z.boolean().optional().describe('Answer every command with success:false'),
  hang: z.boolean().optional().describe('Never answer'),
});

/** A simulated node. */
export const SimDeviceSchema = z.object({
  esp_id: z.string(),
  latency_ms: z.number(),
  fail: z.boolean(),
  hang: z.boolean(),
  commands: z.number().int(),
  actuators: z.array(
    z.object({ gpio: z.number().int(), on: z.boolean(), value: z.number(), last_command: z.string(), updated_at: z.string() }),
  ),
});

/** Answer of `GET /health`. */
export const HealthSchema = z.object({
  status: z.enum(['ok', 'starting', 'draining']),
  uptime_seconds: z.number(),
  started_at: z.string().describe('When this server process started (ISO 8601): a new value means a restart, whose event seq began again at 1'),
  runs_running: z.number().int(),
  driver: z.object({ kind: z.string(), ok: z.boolean(), detail: z.string() }),
  emergency_stop: z.boolean(),
  devices: z
    .object({
      known: z.number().int().describe('Nodes the driver knows'),
      online: z.number().int(),
      offline: z.array(z.string()).describe('esp_ids of the nodes silent for more than the missed heartbeats (SPEC 9)'),
      safe_mode: z.array(z.string()).describe('esp_ids of the nodes that report being in safe mode'),
    })
    .describe('Node presence; a node offline does not make the server unhealthy'),
});

/** One actuator of `GET /devices` (SPEC 7). */
export const DeviceActuatorSchema = z.object({
  gpio: z.number().int(),
  state: z.enum(['ON', 'OFF', 'UNKNOWN']).describe('As the node last reported it, else as it last accepted; UNKNOWN when neither is known'),
  value: z.number().nullable().describe('Duty 0..1'),
  held_by_run: z.string().nullable().describe('run_id of the run holding its lease'),
  last_command: z.string().nullable(),
  emergency: z.string().nullable().describe("The node's emergency status of it (normal, active, clearing, resuming), when reported"),
  updated_at: z.string().nullable().describe('ISO 8601: last report or command'),
});

/** One node of `GET /devices` (SPEC 7). */
export const DeviceSchema = z.object({
  esp_id: z.string(),
  online: z.boolean(),
  presence: z.enum(['online', 'offline', 'unknown']).describe('unknown: no heartbeat heard yet'),
  last_seen_at: z.string().nullable().describe('ISO 8601: last message from the node'),
  safe_mode: z.boolean(),
  safe_mode_reason: z.string().nullable(),
  actuators: z.array(DeviceActuatorSchema),
});

/** Path of one actuator: `/devices/{esp_id}/actuators/{gpio}`. */
export const ActuatorParamsSchema = z.object({ esp_id: z.string().min(1).max(100), gpio: z.coerce.number().int().min(0).max(39) });

/** Answer of `POST /devices/{esp_id}/actuators/{gpio}/off`. */
export const ActuatorOffResponseSchema = z.object({
  success: z.literal(true),
  esp_id: z.string(),
  gpio: z.number().int(),
  released_from_run: z.string().nullable().describe('The run whose failed safe state had left its lease on this actuator, released now'),
});

/** Answer of `GET /devices`. */
export const DevicesResponseSchema = z.object({ success: z.literal(true), devices: z.array(DeviceSchema) });
