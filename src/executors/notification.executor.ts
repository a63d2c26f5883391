/**
 * `notification`: tells people. The `websocket` channel publishes a `notification` event; the
 * `webhook` channel POSTs JSON to the target URL, bounded by the step timeout (its AbortSignal).
 */
import { z } from 'zod';
import { Codes, SequencerError } from '../domain/errors.ts';
import type { Executor } from './executor.ts';

/** The payload of a notification action (SPEC 2). */
export const NotificationActionSchema = z
  .strictObject({
    type: z.literal('notification'),
    channel: z.enum(['websocket', 'webhook']).default('websocket'),
    target: z.url({ protocol: /^https?$/ }).optional(),
    title: z.string().max(200).default(''),
    message: z.string().min(1).max(2000),
    severity: z.enum(['info', 'warning', 'critical']).default('info'),
    idempotent: z.boolean().default(false),
  })
  .refine((a) => a.channel !== 'webhook' || a.target !== undefined, {
    message: 'A webhook notification needs a target URL',
    path: ['target'],
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
    const response = await fetch(action.target as string, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
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
    await response.body?.cancel();
    if (!response.ok) {
      throw new SequencerError(Codes.STEP_FAILED, `Webhook ${action.target} answered ${response.status}`);
    }
    return `Webhook ${action.target} answered ${response.status}`;
  },
};
