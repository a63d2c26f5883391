/**
 * Every sensor's latest reading (SPEC 13, `GET /sensors`): value with its unit, age, and quality in
 * words. A reading that conditions read as unknown (quality bad or stale, or older than a
 * condition's default `max_age_seconds` of 120 s) says so, with an icon, not by colour alone.
 */
import type { Sensor } from '../api/types.ts';
import { duration } from './format.ts';

/** A condition's default `max_age_seconds` (SPEC 2.1): older readings count as unknown. */
const DEFAULT_MAX_AGE_SECONDS = 120;

/** Qualities under which a condition reads the sensor as unknown (SPEC 9.1). */
const UNUSABLE = new Set(['bad', 'stale']);

/** Props of SensorTable. */
export interface SensorTableProps {
  sensors: Sensor[];
  /** The page's clock (Unix ms), for the ages. */
  now: number;
}

/** The sensors table. */
export function SensorTable({ sensors, now }: SensorTableProps) {
  if (sensors.length === 0) return <p class="muted">No sensor reading yet.</p>;
  const sorted = [...sensors].sort((a, b) => a.esp_id.localeCompare(b.esp_id) || a.gpio - b.gpio);
  return (
    <div class="table-scroll">
      <table class="devices sensors">
        <caption class="visually-hidden">Sensors: latest reading, age and quality</caption>
        <thead>
          <tr>
            <th scope="col">Sensor</th>
            <th scope="col">Value</th>
            <th scope="col">Age</th>
            <th scope="col">Quality</th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((s) => {
            const age = s.at ? (now - new Date(s.at).getTime()) / 1000 : null;
            const old = age !== null && age > DEFAULT_MAX_AGE_SECONDS;
            const unusable = s.quality !== null && UNUSABLE.has(s.quality);
            return (
              <tr key={`${s.esp_id}:${s.gpio}`} data-sensor={`${s.esp_id}:${s.gpio}`}>
                <th scope="row">
                  {s.esp_id}:{s.gpio}
                </th>
                <td class="reading">
                  {s.value === null ? '-' : Number(s.value.toFixed(2))} {s.unit ?? ''}
                </td>
                <td class={old ? 'sensor-warn' : undefined}>
                  {age === null ? '-' : duration(Math.max(0, age))}
                  {old ? <small> ⚠ old: unknown to conditions by default</small> : null}
                </td>
                <td class={unusable ? 'sensor-warn' : undefined} data-quality={s.quality ?? ''}>
                  {unusable ? '⚠ ' : ''}
                  {s.quality ?? '-'}
                  {unusable ? <small>: unknown to conditions</small> : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
