/** The time of day, ticking once a second, for elapsed times (only visible rows read it). */
import { signal } from '@preact/signals';

/** Unix ms, updated every second. */
export const now = signal(Date.now());

setInterval(() => {
  now.value = Date.now();
}, 1000);
