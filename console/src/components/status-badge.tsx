/**
 * A run's status as a word with an icon and a colour: never colour alone (SPEC 13), so it reads
 * the same in grey-scale and to a screen reader.
 */

const ICONS: Record<string, string> = {
  pending: '◷',
  running: '▶',
  paused: '‖',
  stopping: '■',
  completed: '✔',
  failed: '✖',
  cancelled: '⊘',
  timeout: '◔',
};

/** The icon of a status. */
export const statusIcon = (status: string): string => ICONS[status] ?? '•';

/** Props of StatusBadge. */
export interface StatusBadgeProps {
  status: string;
  /** Shown after the status (`stopping → failed`). */
  detail?: string | null;
}

/** A status badge. */
export function StatusBadge({ status, detail }: StatusBadgeProps) {
  return (
    <span class={`badge status-${status}`} data-status={status}>
      <span aria-hidden="true">{statusIcon(status)}</span> {status}
      {detail ? <span class="badge-detail"> → {detail}</span> : null}
    </span>
  );
}
