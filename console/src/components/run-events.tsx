/**
 * A run's events as they came on the stream, oldest first, with their `seq`, time and data; the
 * newest are kept in view.
 */
import type { StreamEvent } from '../api/types.ts';
import { clock } from './format.ts';

/** Shown at most; older ones are counted. */
const SHOWN = 300;

/** Props of RunEvents. */
export interface RunEventsProps {
  events: readonly StreamEvent[];
}

function summary(event: StreamEvent): string {
  const { sequence_id: _s, run_id: _r, ...rest } = event.data;
  return JSON.stringify(rest);
}

/** The event list. */
export function RunEvents({ events }: RunEventsProps) {
  const shown = events.slice(-SHOWN);
  if (events.length === 0) return <p class="muted">No event of this run since this page (or the server's replay buffer) began.</p>;
  return (
    <div class="events-scroll" tabIndex={0} aria-label="Run events, scrollable">
      {events.length > SHOWN ? <p class="muted">{events.length - SHOWN} earlier events not shown.</p> : null}
      <ol class="events" data-testid="run-events">
        {shown.map((event, i) => (
          <li key={events.length - shown.length + i} data-seq={event.seq} data-type={event.type}>
            <span class="seq">#{event.seq}</span> <span class="muted">{clock(new Date(event.timestamp * 1000).toISOString())}</span>{' '}
            <strong>{event.type}</strong> <code>{summary(event)}</code>
          </li>
        ))}
      </ol>
    </div>
  );
}
