/**
 * `notification`: tells people. The `websocket` channel publishes a `notification` event; the
 * `webhook` channel POSTs JSON to the target URL, bounded by the step timeout (its AbortSignal).
 * A webhook that fails says where (the URL without credentials or query) and why: the HTTP status,
 * or the network's reason (connection refused, DNS, TLS, ...) with its code.
 */
import { z } from 'zod';
import { Codes, SequencerError } from '../domain/errors.ts';
import { networkReason } from '../logging/network-reason.ts';
import { redactUrl } from '../logging/redact-url.ts';
import type { Executor } from './executor.ts';

/** The payload of a notification action (SPEC 2). */
export const NotificationActionSchema = z
  .strictObject({
    type: z.literal('notification'),
    channel: z.enum(['websocket', 'webhook']).default('websocket').describe('websocket: a `notification` event; webhook: a POST to `target`'),
    target: z.url({ protocol: /^https?$/ }).optional().describe('The webhook URL (https://user:password@host/... sends Basic auth)'),
    title: z.string().max(200).default(''),
    message: z.string().min(1).max(2000).describe('{sequence_id}, {step_name} and {rule_name} are filled in'),
    severity: z.enum(['info', 'warning', 'critical']).default('info'),
    idempotent: z.boolean().default(false),
  })
  .refine((a) => a.channel !== 'webhook' || a.target !== undefined, {
    message: 'A webhook notification needs a target URL',
    path: ['target'],
  })
  .meta({
    title: 'notification',
    description: 'Tell people: an event on the WebSocket stream, or a webhook',
    examples: [{ type: 'notification', channel: 'websocket', title: 'Zone 1', message: '{sequence_id}: watered', severity: 'info' }],
  });
export type NotificationAction = z.infer<typeof NotificationActionSchema>;

/** Fills `{sequence_id}`, `{step_name}` and `{rule_name}`. */
export function fillPlaceholders(text: string, values: Record<string, string>): string {
  return text.replace(/\{(sequence_id|step_name|rule_name)\}/g, (_, key: string) => values[key] ?? '');
}

/** The notification executor. */
export const notificationExecutor: Executor<NotificationAction> = {
  type: 'notification',
  schema: NotificationActionSchema,
  async execute(action, context) {
    const values = { sequence_id: context.sequenceId, step_name: context.stepName, rule_name: context.ruleName ?? '' };
    const title = fillPlaceholders(action.title, values);
    const message = fillPlaceholders(action.message, values);
    if (action.channel === 'websocket') {
      context.emit('notification', {
        sequence_id: context.sequenceId,
        run_id: context.runId,
        title,
        message,
        severity: action.severity,
        step_name: context.stepName,
      });
      return `Notification sent: ${title || message}`;
    }
    const target = action.target as string;
    const { url, authorization } = splitCredentials(target);
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({
          sequence_id: context.sequenceId,
          run_id: context.runId,
          step_name: context.stepName,
          rule_name: context.ruleName,
          title,
          message,
          severity: action.severity,
        }),
        signal: context.signal,
      });
    } catch (error) {
      // A timeout or a cancel of the step speaks for itself.
      if (context.signal.aborted) throw error;
      throw new SequencerError(Codes.STEP_FAILED, `Webhook ${redactUrl(target)} failed: ${networkReason(error, target)}`);
    }
    await response.body?.cancel();
    if (!response.ok) {
      throw new SequencerError(Codes.STEP_FAILED, `Webhook ${redactUrl(target)} answered ${response.status}`);
    }
    return `Webhook ${redactUrl(target)} answered ${response.status}`;
  },
};

/**
 * The URL without `user:password@` and those as a Basic authorization header: fetch refuses a URL
 * with credentials, and `https://user:secret@host/hook` is how people write a protected webhook.
 */
function splitCredentials(target: string): { url: string; authorization: string | null } {
  const parsed = new URL(target);
  if (parsed.username === '' && parsed.password === '') return { url: target, authorization: null };
  const pair = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
  parsed.username = '';
  parsed.password = '';
  return { url: parsed.toString(), authorization: `Basic ${Buffer.from(pair).toString('base64')}` };
}
