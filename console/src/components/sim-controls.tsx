/**
 * Controls of the sim driver (SPEC 9): make a node fail, hang or recover, change its latency, and
 * set a sensor's reading. Only an operator sees them.
 */
import { useState } from 'preact/hooks';
import { ApiError } from '../api/http.ts';
import type { SimDevice } from '../api/types.ts';
import { canAct } from '../state/session.ts';

/** Props of SimControls. */
export interface SimControlsProps {
  devices: SimDevice[];
  onChanged(): void;
  put<T>(path: string, body?: unknown): Promise<T>;
}

/** The simulator panel. */
export function SimControls({ devices, onChanged, put }: SimControlsProps) {
  const [message, setMessage] = useState<string | null>(null);
  if (!canAct()) return null;
  const change = async (path: string, body: unknown, what: string) => {
    setMessage(null);
    try {
      await put(path, body);
      setMessage(`${what}: done`);
      onChanged();
    } catch (error) {
      setMessage(error instanceof ApiError && error.notAvailable ? `${what} is not available on this server.` : `${what}: ${(error as Error).message}`);
    }
  };
  return (
    <section class="panel sim" aria-labelledby="sim-title">
      <h2 id="sim-title">Simulator</h2>
      <ul class="sim-nodes">
        {devices.map((d) => (
          <li key={d.esp_id}>
            <strong>{d.esp_id}</strong> <span class="muted">{d.fail ? 'failing' : d.hang ? 'hanging' : 'healthy'} · {d.latency_ms} ms · {d.commands} commands</span>{' '}
            <button type="button" onClick={() => void change(`/sim/devices/${encodeURIComponent(d.esp_id)}`, { fail: true, hang: false }, `${d.esp_id} fail`)}>
              Make {d.esp_id} fail
            </button>{' '}
            <button type="button" onClick={() => void change(`/sim/devices/${encodeURIComponent(d.esp_id)}`, { hang: true, fail: false }, `${d.esp_id} hang`)}>
              Make {d.esp_id} hang
            </button>{' '}
            <button type="button" onClick={() => void change(`/sim/devices/${encodeURIComponent(d.esp_id)}`, { fail: false, hang: false }, `${d.esp_id} recover`)}>
              Recover {d.esp_id}
            </button>
          </li>
        ))}
      </ul>
      <NodeForm onSubmit={(esp, body) => void change(`/sim/devices/${encodeURIComponent(esp)}`, body, `${esp}`)} />
      <SensorForm onSubmit={(esp, gpio, body) => void change(`/sim/sensors/${encodeURIComponent(esp)}/${gpio}`, body, `Sensor ${esp}:${gpio}`)} />
      {message ? <p role="status">{message}</p> : null}
    </section>
  );
}

function NodeForm({ onSubmit }: { onSubmit(esp: string, body: { latency_ms: number }): void }) {
  const [esp, setEsp] = useState('');
  const [latency, setLatency] = useState('20');
  return (
    <form class="inline" onSubmit={(e) => (e.preventDefault(), onSubmit(esp.trim(), { latency_ms: Number(latency) }))}>
      <label>
        Node
        <input name="sim_esp" required value={esp} onInput={(e) => setEsp(e.currentTarget.value)} placeholder="ESP_12AB34CD" />
      </label>
      <label>
        Latency (ms)
        <input name="sim_latency" type="number" min={0} value={latency} onInput={(e) => setLatency(e.currentTarget.value)} />
      </label>
      <button type="submit">Set latency</button>
    </form>
  );
}

function SensorForm({ onSubmit }: { onSubmit(esp: string, gpio: number, body: { value: number; unit?: string; quality?: string }): void }) {
  const [esp, setEsp] = useState('');
  const [gpio, setGpio] = useState('34');
  const [value, setValue] = useState('');
  const [unit, setUnit] = useState('%');
  const [quality, setQuality] = useState('good');
  return (
    <form
      class="inline"
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit(esp.trim(), Number(gpio), { value: Number(value), unit: unit || undefined, quality });
      }}
    >
      <label>
        Sensor node
        <input name="sensor_esp" required value={esp} onInput={(e) => setEsp(e.currentTarget.value)} placeholder="ESP_12AB34CD" />
      </label>
      <label>
        GPIO
        <input name="sensor_gpio" type="number" min={0} max={39} required value={gpio} onInput={(e) => setGpio(e.currentTarget.value)} />
      </label>
      <label>
        Value
        <input name="sensor_value" type="number" step="any" required value={value} onInput={(e) => setValue(e.currentTarget.value)} />
      </label>
      <label>
        Unit
        <input name="sensor_unit" value={unit} onInput={(e) => setUnit(e.currentTarget.value)} />
      </label>
      <label>
        Quality
        <select name="sensor_quality" value={quality} onChange={(e) => setQuality(e.currentTarget.value)}>
          <option>good</option>
          <option>fair</option>
          <option>bad</option>
          <option>stale</option>
        </select>
      </label>
      <button type="submit">Set sensor</button>
    </form>
  );
}
