/**
 * Every actuator (SPEC 13): ON/OFF/PWM value, the run holding its lease, the last command, and for
 * an operator an OFF button.
 */
import type { Device } from '../api/types.ts';
import { runHref } from '../state/router.ts';
import { clock } from './format.ts';
import { OffButton, type TurnOff } from './turn-off.tsx';

/** Props of ActuatorTable. */
export interface ActuatorTableProps {
  devices: Device[];
  /** Whether the list comes from `GET /devices` (lease holders known). */
  leasesKnown: boolean;
  /** The OFF action, or null when this token may not act. */
  off: TurnOff | null;
}

/** The actuators table. */
export function ActuatorTable({ devices, leasesKnown, off }: ActuatorTableProps) {
  if (devices.length === 0) return <p class="muted">No node has been commanded yet.</p>;
  return (
    <div class="table-scroll">
      <table class="devices">
        <caption class="visually-hidden">Actuators by node</caption>
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">GPIO</th>
            <th scope="col">State</th>
            <th scope="col">Lease holder</th>
            <th scope="col">Last command</th>
            {off ? <th scope="col">Action</th> : null}
          </tr>
        </thead>
        <tbody>
          {devices.flatMap((device) =>
            device.actuators.map((a) => (
              <tr key={`${device.esp_id}:${a.gpio}`} data-actuator={`${device.esp_id}:${a.gpio}`}>
                <th scope="row">
                  {device.esp_id}
                  {device.online === false ? <span class="badge status-failed"> offline</span> : null}
                  {device.safe_mode ? <span class="badge status-stopping"> safe mode</span> : null}
                </th>
                <td>{a.gpio}</td>
                <td>
                  <span class={`badge out-${a.state.toLowerCase()}`}>
                    {a.state === 'OFF' ? '○' : '●'} {a.state}
                    {a.state === 'PWM' || (a.value > 0 && a.value < 1) ? ` ${Math.round(a.value * 100)}%` : ''}
                  </span>
                </td>
                <td>{a.held_by_run ? <a href={runHref(a.held_by_run)}>{a.held_by_run}</a> : leasesKnown ? '—' : 'unknown'}</td>
                <td>
                  {a.last_command ?? '-'} <small class="muted">{clock(a.updated_at)}</small>
                </td>
                {off ? (
                  <td>
                    <OffButton off={off} espId={device.esp_id} gpio={a.gpio} />
                  </td>
                ) : null}
              </tr>
            )),
          )}
        </tbody>
      </table>
    </div>
  );
}
