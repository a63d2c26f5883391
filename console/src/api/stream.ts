/**
 * A client of the WebSocket stream (SPEC 8) that misses nothing: it remembers the last `seq` it
 * received and reconnects with `?since=` after any drop. A server restart starts `seq` again at 1,
 * which `since` alone cannot tell; the server's `started_at` (from `/health`) can, so after a
 * restart the client asks for everything the new server buffered and says so (`onRestart`).
 */
import { role, token } from '../state/session.ts';
import { get } from './http.ts';
import type { StreamEvent } from './types.ts';

/** Connection state shown in the header. */
export type StreamStatus = 'connecting' | 'live' | 'reconnecting' | 'unauthorized';

/** Options of a stream. */
export interface StreamOptions {
  /** The `seq` after which the first connect starts (0: everything the server buffered). */
  since: number;
  /** Extra query (`sequence_ids`, `types`). */
  query?: Record<string, string>;
  /** Each event, once, in `seq` order. */
  onEvent(event: StreamEvent): void;
  /** The connection state changed. */
  onStatus?(status: StreamStatus): void;
  /** The server restarted since the last connection (its `seq` began again). */
  onRestart?(): void;
}

/** Starts a stream; returns its stop function. */
export function openStream(options: StreamOptions): () => void {
  let socket: WebSocket | null = null;
  let lastSeq = options.since;
  let epoch: string | null = null;
  let stopped = false;
  let delay = 250;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const status = (value: StreamStatus) => options.onStatus?.(value);

  const connect = async (): Promise<void> => {
    if (stopped) return;
    let startedAt: string | null = null;
    try {
      startedAt = (await get<{ started_at?: string }>('/health')).started_at ?? null;
    } catch {
      // 503 while the server starts or drains, or no server: try again shortly.
      return retry();
    }
    if (stopped) return;
    if (epoch !== null && startedAt !== null && startedAt !== epoch) {
      lastSeq = 0;
      options.onRestart?.();
    }
    epoch = startedAt;
    const query = new URLSearchParams(options.query);
    if (token.value) query.set('token', token.value);
    query.set('since', String(lastSeq));
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/api/v1/ws?${query}`);
    socket = ws;
    ws.onopen = () => {
      delay = 250;
      status('live');
    };
    ws.onmessage = (message) => {
      let event: StreamEvent;
      try {
        event = JSON.parse(String(message.data)) as StreamEvent;
      } catch {
        return;
      }
      if (typeof event.seq !== 'number' || typeof event.type !== 'string') return;
      // A replay after a reconnect may overlap what already came; seq tells.
      if (event.seq <= lastSeq) return;
      lastSeq = event.seq;
      options.onEvent(event);
    };
    ws.onclose = (close) => {
      if (socket !== ws) return;
      socket = null;
      if (close.code === 4001) {
        role.value = 'none';
        status('unauthorized');
        return;
      }
      retry();
    };
  };

  const retry = (): void => {
    if (stopped) return;
    status('reconnecting');
    timer = setTimeout(() => void connect(), delay);
    delay = Math.min(delay * 2, 2000);
  };

  status('connecting');
  void connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    socket?.close(1000);
    socket = null;
  };
}
