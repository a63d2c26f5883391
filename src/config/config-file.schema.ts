/**
 * The `--config` JSON file of SPEC 12: limits, rate limits, safety policy, tokens and MQTT
 * connection details. Every key is optional; an unknown key or a bad value is refused with its
 * path, so a typo never silently falls back to a default.
 */
import { z } from 'zod';
import { SafetyPolicySchema } from '../safety/safety-policy.ts';

const count = z.number().int();

/** One bearer token and its role (SPEC 7). */
export const TokenSchema = z.strictObject({
  token: z.string().min(1).regex(/^\S+$/, { error: 'must not contain whitespace' }),
  role: z.enum(['viewer', 'operator']),
});

/** A tokens file (`--tokens-file`): a JSON array of tokens. */
export const TokensFileSchema = z.array(TokenSchema);

/** The config file. */
export const ConfigFileSchema = z.strictObject({
  limits: z
    .strictObject({
      max_concurrent: count.min(1).max(1_000_000).optional(),
      max_steps: count.min(1).max(10_000).optional(),
      max_duration_seconds: z.number().min(1).max(86_400).optional(),
      history_days: z.number().min(0).optional(),
    })
    .optional(),
  rate_limits: z
    .strictObject({
      starts_per_second: z.number().min(0).optional(),
      commands_per_second: z.number().min(0).optional(),
      commands_per_esp_per_second: z.number().min(0).optional(),
    })
    .optional(),
  safety: SafetyPolicySchema.optional(),
  tokens: TokensFileSchema.optional(),
  /** This node's id in a PostgreSQL cluster (`--node-id` wins). */
  node_id: z.string().regex(/^\S+$/, { error: 'must be a non-empty id without whitespace' }).optional(),
  mqtt: z
    .strictObject({
      url: z.string().min(1).optional(),
      port: count.min(0).max(65_535).optional(),
      username: z.string().optional(),
      password: z.string().optional(),
      ca_file: z.string().optional(),
      cert_file: z.string().optional(),
      key_file: z.string().optional(),
      client_id: z.string().min(1).optional(),
      kaiser_id: z.string().min(1).optional(),
      heartbeat_interval_seconds: z.number().min(0.01).max(86_400).optional(),
      missed_heartbeats: count.min(1).max(100).optional(),
    })
    .optional(),
});

/** A validated config file. */
export type ConfigFile = z.infer<typeof ConfigFileSchema>;
