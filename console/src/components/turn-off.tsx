/**
 * The operator's OFF of one actuator (`POST /devices/{esp_id}/actuators/{gpio}/off`, SPEC 10): the
 * way to settle an actuator a safe state could not confirm OFF once its device answers again. The
 * answer says whether the device confirmed it and which ended run's lease it released; a confirmed
 * OFF settles the page's safety alerts about that actuator.
 */
import { useState } from 'preact/hooks';
import { post } from '../api/http.ts';
import { confirmedOff } from '../state/runs.store.ts';

/** What a page needs to offer the OFF. */
export interface TurnOff {
  /** The actuator (`esp_id:gpio`) an OFF is under way for, or null. */
  busy: string | null;
  /** The outcome of the last OFF, in words. */
  message: string | null;
  turnOff(espId: string, gpio: number): Promise<void>;
}

/** The OFF action of a page; `onChanged` reads the devices again after a confirmed OFF. */
export function useTurnOff(onChanged: () => void): TurnOff {
  const [busy, setBusy] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const turnOff = async (espId: string, gpio: number) => {
    const name = `${espId}:${gpio}`;
    setBusy(name);
    setMessage(null);
    try {
      const answer = await post<{ released_from_run: string | null }>(`/devices/${encodeURIComponent(espId)}/actuators/${gpio}/off`);
      confirmedOff.value = new Map(confirmedOff.value).set(name, Date.now());
      setMessage(`${name} confirmed OFF${answer.released_from_run ? `; its lease is released from run ${answer.released_from_run}` : ''}.`);
      onChanged();
    } catch (error) {
      setMessage(`${name}: ${(error as Error).message}`);
    } finally {
      setBusy(null);
    }
  };
  return { busy, message, turnOff };
}

/** Props of OffButton. */
export interface OffButtonProps {
  off: TurnOff;
  espId: string;
  gpio: number;
}

/** The OFF button of one actuator. */
export function OffButton({ off, espId, gpio }: OffButtonProps) {
  return (
    <button type="button" disabled={off.busy !== null} aria-label={`Turn ${espId}:${gpio} OFF`} onClick={() => void off.turnOff(espId, gpio)}>
      ○ OFF
    </button>
  );
}
