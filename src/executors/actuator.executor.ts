/**
 * `actuator_command` (alias `actuator`): sends one command through the actuator driver and waits
 * for the device's answer. Safety (policy, leases, rate limits) is consulted before the command
 * leaves and told what happened after.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { Codes, SequencerError } from '../domain/errors.ts';
import type { ActuatorCommand, ActuatorDriver } from '../drivers/actuator-driver.ts';
import type { ExecutionContext, Executor } from './executor.ts';

/** The payload of an actuator action (SPEC 2). */
export const ActuatorActionSchema = z
  .strictObject({
    type: z.enum(['actuator_command', 'actuator']),
    esp_id: z.string().min(1).max(64),
    gpio: z.number().int().min(0).max(39),
    command: z.enum(['ON', 'OFF', 'PWM', 'TOGGLE']),
    value: z.number().min(0).max(1).optional(),
    duration_seconds: z.number().min(0).max(86_400).default(0),
    leave_on: z.boolean().default(false),
    idempotent: z.boolean().default(false),
  })
  .refine((a) => a.command !== 'PWM' || a.value !== undefined, {
    message: 'PWM needs a value between 0.0 and 1.0',
    path: ['value'],
  });
export type ActuatorAction = z.infer<typeof ActuatorActionSchema>;

/** The safety system as the executor sees it. */
export interface ActuatorSafety {
  /** Checks policy, leases and rate limits; throws a SequencerError (5640/5641/5642) to refuse. */
  beforeSend(command: ActuatorCommand, context: ExecutionContext): Promise<void>;
  /** Records what a command the device accepted means for the run's leases. */
  afterSend(command: ActuatorCommand, context: ExecutionContext, leaveOn: boolean): void;
}

/** Safety that allows everything (for tools that run without the safety system). */
export const NO_SAFETY: ActuatorSafety = { beforeSend: async () => {}, afterSend: () => {} };

/** Builds the driver command of an action. */
export function toCommand(action: ActuatorAction): ActuatorCommand {
  const value = action.command === 'PWM' ? (action.value ?? 0) : action.command === 'OFF' ? 0 : 1;
  return {
    esp_id: action.esp_id,
    gpio: action.gpio,
    command: action.command,
    value,
    duration_seconds: action.duration_seconds,
    correlation_id: randomUUID(),
  };
}

/** The actuator executor over a driver. */
export function actuatorExecutor(driver: ActuatorDriver, safety: ActuatorSafety = NO_SAFETY): Executor<ActuatorAction> {
  return {
    type: 'actuator_command',
    aliases: ['actuator'],
    schema: ActuatorActionSchema,
    async execute(action, context) {
      const command = toCommand(action);
      await safety.beforeSend(command, context);
      const response = await driver.send(command, { signal: context.signal, timeoutMs: context.timeoutMs });
      if (!response.success) {
        throw new SequencerError(Codes.STEP_FAILED, `Device ${action.esp_id} refused ${action.command} on gpio ${action.gpio}: ${response.message}`);
      }
      safety.afterSend(command, context, action.leave_on);
      return response.message || `${action.esp_id} gpio ${action.gpio} ${action.command}`;
    },
  };
}
