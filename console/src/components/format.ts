/** Small formatters shared by the views: durations, times, status words. */

/** `1h 02m`, `3m 05s`, `12.3s`. */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '-';
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)}s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m ${String(rest).padStart(2, '0')}s`;
}

/** A local time of day with seconds, or '-'. */
export function clock(iso: string | null | undefined): string {
  if (!iso) return '-';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '-' : date.toLocaleTimeString([], { hour12: false });
}

/** Date and time, for tooltips. */
export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '-' : date.toLocaleString([], { hour12: false });
}

/** Seconds a run has been going (or went). */
export function elapsed(startedAt: string | null, completedAt: string | null, now: number): number | null {
  if (!startedAt) return null;
  const end = completedAt ? new Date(completedAt).getTime() : now;
  return Math.max(0, (end - new Date(startedAt).getTime()) / 1000);
}
