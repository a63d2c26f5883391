/**
 * The devices page (SPEC 13): every node and actuator (ON/OFF/PWM value, the run holding its lease,
 * the last command), every sensor (value, age, quality), and with the sim driver the controls that
 * make a node fail, hang or recover and that set a sensor. Read over REST when opened, after device
 * events (at most once a second) and every 5 s; routes this server lacks are named, not hidden.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, put } from '../api/http.ts';
import type { Device, Sensor, SimDevice } from '../api/types.ts';
import { clock } from '../components/format.ts';
import { SensorTable } from '../components/sensor-table.tsx';
import { SimControls } from '../components/sim-controls.tsx';
import { now } from '../state/now.ts';
import { runHref } from '../state/router.ts';
import { alerts, onBatch } from '../state/runs.store.ts';

interface Snapshot {
  devices: Device[] | null;
  devicesNote: string | null;
  sim: SimDevice[] | null;
  sensors: Sensor[] | null;
  sensorsNote: string | null;
}

const note = (error: unknown, what: string): string =>
  error instanceof ApiError && error.notAvailable ? `${what} is not available on this server.` : `${what}: ${(error as Error).message}`;

async function readAll(): Promise<Snapshot> {
  const [devices, sim, sensors] = await Promise.allSettled([
    get<{ devices: Device[] }>('/devices'),
    get<{ devices: SimDevice[] }>('/sim/devices'),
    get<{ sensors: Sensor[] }>('/sensors'),
  ]);
  return {
    devices: devices.status === 'fulfilled' ? devices.value.devices : null,
    devicesNote: devices.status === 'rejected' ? note(devices.reason, 'GET /api/v1/devices (lease holders, node health)') : null,
    sim: sim.status === 'fulfilled' ? sim.value.devices : null,
    sensors: sensors.status === 'fulfilled' ? sensors.value.sensors : null,
    sensorsNote: sensors.status === 'rejected' ? note(sensors.reason, 'Sensors (GET /api/v1/sensors)') : null,
  };
}

/** Devices as `GET /devices` lists them, or as the sim driver does when that route is missing. */
function nodes(snapshot: Snapshot): Device[] {
  if (snapshot.devices) return snapshot.devices;
  return (snapshot.sim ?? []).map((d) => ({
    esp_id: d.esp_id,
    online: null,
    last_seen_at: null,
    safe_mode: null,
    actuators: d.actuators.map((a) => ({ gpio: a.gpio, state: a.on ? 'ON' : 'OFF', value: a.value, held_by_run: null, last_command: a.last_command, updated_at: a.updated_at })),
  }));
}

/** The devices page. */
export function DevicesPage() {
  const [snapshot, setSnapshot] = useState<Snapshot | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = () =>
      readAll()
        .then((s) => alive && setSnapshot(s))
        .catch((e: Error) => alive && setError(e.message));
    const soon = () => {
      timer ??= setTimeout(() => {
        timer = undefined;
        void read();
      }, 1000);
    };
    void read();
    const every = setInterval(() => void read(), 5000);
    const stop = onBatch((events) => {
      if (events.some((e) => e.type === 'sequence_step' || e.type === 'device_alert' || e.type === 'emergency_stop' || e.type === 'sequence_completed')) soon();
    });
    return () => {
      alive = false;
      clearTimeout(timer);
      clearInterval(every);
      stop();
    };
  }, []);
  if (error) return <section class="page"><p class="notice">{error}</p></section>;
  if (!snapshot) return <section class="page"><p class="muted">Loading devices…</p></section>;
  const list = nodes(snapshot);
  const refresh = () => void readAll().then(setSnapshot);
  return (
    <section class="page devices-page" aria-labelledby="devices-title">
      <h1 id="devices-title">Devices</h1>
      {snapshot.devicesNote ? <p class="notice">{snapshot.devicesNote}{snapshot.sim ? ' Showing the simulated nodes instead.' : ''}</p> : null}
      {alerts.value.length > 0 ? (
        <details class="panel" open>
          <summary>Alerts and notifications ({alerts.value.length})</summary>
          <ul>
            {alerts.value.map((a) => (
              <li key={a.seq}>
                {clock(new Date(a.timestamp * 1000).toISOString())} <strong>{a.type}</strong>{' '}
                {a.type === 'notification' ? `[${String(a.data.severity)}] ${String(a.data.title)}:` : `${String(a.data.esp_id ?? '')}:${String(a.data.gpio ?? '')}`}{' '}
                {String(a.data.message ?? '')}
              </li>
            ))}
          </ul>
        </details>
      ) : null}
      <h2>Actuators</h2>
      {list.length === 0 ? <p class="muted">No node has been commanded yet.</p> : null}
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
            </tr>
          </thead>
          <tbody>
            {list.flatMap((device) =>
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
                  <td>{a.held_by_run ? <a href={runHref(a.held_by_run)}>{a.held_by_run}</a> : snapshot.devices ? '—' : 'unknown'}</td>
                  <td>
                    {a.last_command ?? '-'} <small class="muted">{clock(a.updated_at)}</small>
                  </td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      </div>
      <h2>Sensors</h2>
      {snapshot.sensorsNote ? <p class="notice">{snapshot.sensorsNote}</p> : null}
      {snapshot.sensors ? <SensorTable sensors={snapshot.sensors} now={now.value} /> : null}
      {snapshot.sim ? <SimControls devices={snapshot.sim} onChanged={refresh} put={put} /> : <p class="muted">Simulator controls appear with the sim driver.</p>}
    </section>
  );
}
