/**
 * The log lines of a run's life (SPEC 12), each with `run_id` and `sequence_id`: `run started`
 * (info), `run ended` (info: completed or cancelled), `run failed` (warn: failed or timeout, with
 * the error and its code) and `safe state failed` (error, one per `safety_alert`: an actuator
 * the run held may still be on). All come from the engine's events, as the metrics do.
 */
import type { EventBus } from '../events/event-bus.ts';
import type { SequenceEvents } from '../events/event-types.ts';
import type { Logger } from './logger.ts';

/** Logs the start and the end of every run published on `events`; returns the unsubscribe. */
export function logRunLifecycle(events: EventBus, logger: Logger): () => void {
  return events.subscribe((event) => {
    if (event.type === 'sequence_started') {
      const data = event.data as SequenceEvents['sequence_started'];
      logger.info(
        { run_id: data.run_id, sequence_id: data.sequence_id, mode: data.mode, total_steps: data.total_steps, rule_id: data.rule_id },
        'run started',
      );
      return;
    }
    if (event.type === 'safety_alert') {
      const data = event.data as SequenceEvents['safety_alert'];
      const { run_id, sequence_id, esp_id, gpio, error_code } = data;
      logger.error({ run_id, sequence_id, esp_id, gpio, error_code, error: data.message }, 'safe state failed');
      return;
    }
    if (event.type !== 'sequence_completed') return;
    const data = event.data as SequenceEvents['sequence_completed'];
    const fields = {
      run_id: data.run_id,
      sequence_id: data.sequence_id,
      status: data.status,
      duration_seconds: data.duration_seconds,
      steps_completed: data.steps_completed,
      steps_failed: data.steps_failed,
    };
    if (data.status === 'failed' || data.status === 'timeout') {
      logger.warn({ ...fields, error_code: data.error_code, error: data.error }, 'run failed');
    } else {
      logger.info({ ...fields, ...(data.error === null ? {} : { reason: data.error }) }, 'run ended');
    }
  });
}
