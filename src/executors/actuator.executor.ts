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
    type: z.enum(['actuator_command', 'actuator']).describe('`actuator` is an alias'),
    esp_id: z.string().min(1).max(64).describe('The ESP32 node, e.g. ESP_12AB34CD'),
    gpio: z.number().int().min(0).max(39).describe('The actuator on that node'),
    command: z.enum(['ON', 'OFF', 'PWM', 'TOGGLE']),
    value: z.number().min(0).max(1).optional().describe('PWM duty 0.0..1.0 (needed for PWM)'),
    duration_seconds: z.number().min(0).max(86_400).default(0).describe('The device turns the actuator OFF again after this long (0: stays)'),
    leave_on: z.boolean().default(false).describe('The safe state leaves this actuator as it is when the run ends badly'),
    idempotent: z.boolean().default(false).describe('Safe to send again after a crash interrupted it'),
  })
  .refine((a) => a.command !== 'PWM' || a.value !== undefined, {
    message: 'PWM needs a value between 0.0 and 1.0',
    path: ['value'],
  })
  .meta({
    title: 'actuator_command',
    description: 'Send a command to an actuator and wait for the device to answer; the run holds the actuator until it turns it OFF',
    examples: [{ type: 'actuator_command', esp_id: 'ESP_12AB34CD', gpio: 5, command: 'PWM', value: 0.6 }],
  });
export type ActuatorAction = z.infer<typeof ActuatorActionSchema>;

/** The safety system as the executor sees it. */
export interface ActuatorSafety {
  /** Checks policy, leases and rate limits; throws a SequencerError (5640/5641/5642) to refuse. */
  beforeSend(command: ActuatorCommand, context: CommandContext): Promise<void>;
  /** Records what a command the device accepted means for the run's leases. */
  afterSend(command: ActuatorCommand, context: CommandContext, leaveOn: boolean): void;
}

/** What the safety system reads of the attempt that sends a command. */
export type CommandContext = Pick<ExecutionContext, 'rootRunId' | 'priority' | 'signal' | 'deadline'>;

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
    // Simulated nodes live in this process: a crash resets them with it.
    external: driver.kind !== 'sim',
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
