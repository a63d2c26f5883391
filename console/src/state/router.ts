/**
 * Hash routes (`#/runs/<run_id>`), so the server serves one page and every view has a link that
 * can be shared or reloaded.
 */
import { signal } from '@preact/signals';

/** A view of the console. */
export type Route =
  | { page: 'runs' }
  | { page: 'run'; id: string }
  | { page: 'start' }
  | { page: 'devices' };

function parse(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (parts[0] === 'runs' && parts[1]) return { page: 'run', id: parts[1] };
  if (parts[0] === 'start') return { page: 'start' };
  if (parts[0] === 'devices') return { page: 'devices' };
  return { page: 'runs' };
}

/** The current view. */
export const route = signal<Route>(parse(location.hash));

addEventListener('hashchange', () => {
  route.value = parse(location.hash);
});

/** The link of a run's page. */
export const runHref = (runId: string): string => `#/runs/${encodeURIComponent(runId)}`;
