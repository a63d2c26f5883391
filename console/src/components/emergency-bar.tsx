/**
 * The emergency stop, always in view (SPEC 13): the latch's state and reason, a stop with the
 * operator's reason, the latch's history, and clear. A viewer sees the state but no button.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, post } from '../api/http.ts';
import type { EmergencyState } from '../api/types.ts';
import { emergency, emergencyLog, unconfirmedActuators } from '../state/runs.store.ts';
import { canAct } from '../state/session.ts';
import { dateTime } from './format.ts';

/** Reads the latch from the server. */
export async function refreshEmergency(): Promise<void> {
  const state = await get<EmergencyState>('/emergency-stop');
  emergency.value = state;
}

/** The bar at the top of every page. */
export function EmergencyBar() {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  useEffect(() => {
    refreshEmergency().catch(() => undefined);
  }, []);
  const state = emergency.value;
  const act = async (path: string, body?: unknown) => {
    setBusy(true);
    setMessage(null);
    try {
      const result = await post<EmergencyState & { runs_cancelled?: number; actuators_failed?: string[] }>(path, body);
      emergency.value = { ...emergency.value, ...result };
      if (result.runs_cancelled !== undefined) {
        const failed = result.actuators_failed ?? [];
        setMessage(`${result.runs_cancelled} run(s) cancelled${failed.length ? `; NOT confirmed OFF: ${failed.join(', ')}` : ''}`);
      }
      setOpen(false);
      setReason('');
      await refreshEmergency();
    } catch (error) {
      setMessage(error instanceof ApiError ? error.message : String(error));
    } finally {
      setBusy(false);
    }
  };
  const history = state.history ?? [];
  return (
    <section class={`emergency ${state.active ? 'latched' : ''}`} aria-label="Emergency stop" data-testid="emergency">
      <div class="emergency-state" role="status">
        {state.active ? (
          <strong data-testid="latch">
            ■ EMERGENCY STOP latched since {dateTime(state.since)}: {state.reason ?? 'no reason given'}
          </strong>
        ) : (
          <span>Emergency stop: not latched</span>
        )}
      </div>
      {canAct() ? (
        <div class="emergency-controls">
          {!open ? (
            <button type="button" class="danger big" onClick={() => setOpen(true)}>
              ■ Emergency stop
            </button>
          ) : (
            <form
              class="inline"
              onSubmit={(event) => {
                event.preventDefault();
                void act('/emergency-stop', { reason: reason.trim() || undefined });
              }}
            >
              <label>
                Reason
                <input name="reason" value={reason} maxLength={500} placeholder="What happened" onInput={(e) => setReason(e.currentTarget.value)} autoFocus />
              </label>
              <button type="submit" class="danger" disabled={busy}>
                Stop everything now
              </button>
              <button type="button" onClick={() => setOpen(false)}>
                Back
              </button>
            </form>
          )}
          {state.active ? (
            <button type="button" disabled={busy} onClick={() => void act('/emergency-stop/clear')}>
              Clear the stop
            </button>
          ) : null}
        </div>
      ) : null}
      {message ? <p class="emergency-message">{message}</p> : null}
      <SafetyAlerts />
      {history.length > 0 || emergencyLog.value.length > 0 ? (
        <details class="emergency-history">
          <summary>Latch history</summary>
          <ul>
            {history.map((entry, i) => (
              <li key={`h${i}`}>
                {dateTime(entry.at)}: stop — {entry.reason}
              </li>
            ))}
            {history.length === 0
              ? emergencyLog.value.map((entry, i) => (
                  <li key={`l${i}`}>
                    {dateTime(entry.at)}: {entry.active ? `stop — ${entry.reason ?? 'no reason given'}` : 'cleared'}
                  </li>
                ))
              : null}
          </ul>
        </details>
      ) : null}
    </section>
  );
}

/** Actuators a safe state could not confirm OFF (`safety_alert`): a person must go and look. */
function SafetyAlerts() {
  const unconfirmed = unconfirmedActuators();
  if (unconfirmed.length === 0) return null;
  return (
    <p class="safety-alerts" role="alert">
      ⚠ Not confirmed OFF: {unconfirmed.map((a) => `${a.esp_id}:${a.gpio}`).join(', ')} — <a href="#/devices">see Devices</a>
    </p>
  );
}
