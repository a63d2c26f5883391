/**
 * The console's frame: who you are (from `GET /whoami`), the stream's state, the navigation, the
 * emergency stop in view on every page, and the current page. Without an accepted token it shows
 * the token prompt and nothing else.
 */
import { useEffect } from 'preact/hooks';
import { ApiError, get } from './api/http.ts';
import { EmergencyBar, refreshEmergency } from './components/emergency-bar.tsx';
import { TokenPrompt } from './components/token-prompt.tsx';
import { DevicesPage } from './pages/devices.page.tsx';
import { RunPage } from './pages/run.page.tsx';
import { RunsPage } from './pages/runs.page.tsx';
import { StartPage } from './pages/start.page.tsx';
import { route } from './state/router.ts';
import { startStream, stopStream, streamStatus } from './state/runs.store.ts';
import { authRequired, role, setToken } from './state/session.ts';

async function signIn(): Promise<void> {
  try {
    const who = await get<{ role: 'viewer' | 'operator'; auth_required: boolean }>('/whoami');
    authRequired.value = who.auth_required;
    role.value = who.role;
    startStream();
    refreshEmergency().catch(() => undefined);
  } catch (error) {
    role.value = error instanceof ApiError && (error.status === 401 || error.status === 403) ? 'none' : role.value;
    if (role.value !== 'none') setTimeout(() => void signIn(), 1000);
  }
}

const STREAM_WORDS = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', unauthorized: 'not signed in' } as const;

/** The console. */
export function App() {
  useEffect(() => {
    void signIn();
  }, []);
  if (role.value === 'none') {
    return (
      <TokenPrompt
        onToken={() => {
          stopStream();
          role.value = null;
          void signIn();
        }}
      />
    );
  }
  const current = route.value;
  const nav = (page: string, href: string, label: string) => (
    <a href={href} aria-current={current.page === page ? 'page' : undefined}>
      {label}
    </a>
  );
  return (
    <>
      <header class="top">
        <span class="brand">Sequencer</span>
        <nav aria-label="Pages">
          {nav('runs', '#/', 'Runs')}
          {nav('start', '#/start', 'Start')}
          {nav('devices', '#/devices', 'Devices')}
        </nav>
        <span class={`stream stream-${streamStatus.value}`} role="status" data-testid="stream-status">
          {streamStatus.value === 'live' ? '●' : '○'} {STREAM_WORDS[streamStatus.value]}
        </span>
        <span class="who" data-testid="role">
          {role.value ?? '…'}
          {authRequired.value ? (
            <button
              type="button"
              class="link"
              onClick={() => {
                setToken('');
                stopStream();
                role.value = 'none';
              }}
            >
              change token
            </button>
          ) : null}
        </span>
      </header>
      <EmergencyBar />
      <main>
        {role.value === null ? <p class="muted">Connecting…</p> : null}
        {role.value !== null && current.page === 'runs' ? <RunsPage /> : null}
        {role.value !== null && current.page === 'run' ? <RunPage id={current.id} key={current.id} /> : null}
        {role.value !== null && current.page === 'start' ? <StartPage /> : null}
        {role.value !== null && current.page === 'devices' ? <DevicesPage /> : null}
      </main>
    </>
  );
}

