/**
 * The registry of built-in action types (SPEC 2): actuator commands through a driver, delays and
 * notifications. The engine adds `sequence` (nested runs) itself.
 */
import type { ActuatorDriver } from '../drivers/actuator-driver.ts';
import { actuatorExecutor, type ActuatorSafety } from './actuator.executor.ts';
import { delayExecutor } from './delay.executor.ts';
import { ExecutorRegistry } from './executor.ts';
import { notificationExecutor } from './notification.executor.ts';

/** A registry with every built-in executor over `driver`. */
export function builtinExecutors(driver: ActuatorDriver, safety?: ActuatorSafety): ExecutorRegistry {
  return new ExecutorRegistry().register(actuatorExecutor(driver, safety)).register(delayExecutor).register(notificationExecutor);
}
