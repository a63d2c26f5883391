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
import { ActuatorTable } from '../components/actuator-table.tsx';
import { OffButton, useTurnOff, type TurnOff } from '../components/turn-off.tsx';
import { SensorTable } from '../components/sensor-table.tsx';
import { SimControls } from '../components/sim-controls.tsx';
import { now } from '../state/now.ts';
import { alerts, onBatch, unconfirmedActuators } from '../state/runs.store.ts';
import { canAct } from '../state/session.ts';

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
  const refresh = () => void readAll().then(setSnapshot);
  const off = useTurnOff(refresh);
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
      <Unconfirmed off={snapshot.devices && canAct() ? off : null} />
      <h2>Actuators</h2>
      <ActuatorTable devices={list} leasesKnown={snapshot.devices !== null} off={snapshot.devices && canAct() ? off : null} />
      {off.message ? (
        <p role="status" data-testid="actuator-message">
          {off.message}
        </p>
      ) : null}
      <h2>Sensors</h2>
      {snapshot.sensorsNote ? <p class="notice">{snapshot.sensorsNote}</p> : null}
      {snapshot.sensors ? <SensorTable sensors={snapshot.sensors} now={now.value} /> : null}
      {snapshot.sim ? <SimControls devices={snapshot.sim} onChanged={refresh} put={put} /> : <p class="muted">Simulator controls appear with the sim driver.</p>}
    </section>
  );
}

/**
 * Actuators a safe state could not confirm OFF (from this page's safety alerts), each with its OFF:
 * `GET /devices` may not list one whose device never confirmed any state.
 */
function Unconfirmed({ off }: { off: TurnOff | null }) {
  const unconfirmed = unconfirmedActuators();
  if (unconfirmed.length === 0) return null;
  return (
    <section class="panel unconfirmed" aria-labelledby="unconfirmed-title">
      <h2 id="unconfirmed-title">⚠ Not confirmed OFF</h2>
      <ul>
        {unconfirmed.map((a) => (
          <li key={`${a.esp_id}:${a.gpio}`} data-unconfirmed={`${a.esp_id}:${a.gpio}`}>
            <strong>
              {a.esp_id}:{a.gpio}
            </strong>{' '}
            {a.message} {off ? <OffButton off={off} espId={a.esp_id} gpio={a.gpio} /> : null}
          </li>
        ))}
      </ul>
    </section>
  );
}
