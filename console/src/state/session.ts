/**
 * The caller's token and role. The token is asked for once and kept in sessionStorage (SPEC 13:
 * kept for the browser session, gone when the tab closes); the role comes from `GET /whoami`.
 */
import { signal } from '@preact/signals';

const KEY = 'sequencer.token';

/** The token sent with every request; '' when none was given. */
export const token = signal<string>(sessionStorage.getItem(KEY) ?? '');

/** What the caller may do: null until known, 'none' when the server wants a (better) token. */
export const role = signal<'viewer' | 'operator' | 'none' | null>(null);

/** Whether the server asks for tokens at all. */
export const authRequired = signal<boolean>(false);

/** Keeps a new token for this browser session. */
export function setToken(value: string): void {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
  token.value = value;
}

/** True when the caller may act (start, pause, cancel, stop). */
export function canAct(): boolean {
  return role.value === 'operator';
}
