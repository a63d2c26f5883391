/**
 * Calls to the REST API under `/api/v1` with the session's token. Every failure becomes an
 * ApiError carrying the SPEC 4 body (code, message, details with JSON paths); a route this server
 * does not have (404 that is not an unknown run) is told apart so pages can say "not available".
 */
import { role, token } from '../state/session.ts';
import type { ErrorDetail } from './types.ts';

/** Base of the REST API. */
export const API = '/api/v1';

/** Routes that sit at the root rather than under the API base. */
const ROOT_ROUTES = new Set(['/health']);

/** A failed call, with the server's error body when it sent one. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: number | null;
  readonly details: ErrorDetail[];

  constructor(status: number, code: number | null, message: string, details: ErrorDetail[] = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** The server has no such route (an older server, or a driver without it). */
  get notAvailable(): boolean {
    return this.status === 404 && this.code !== 5611;
  }
}

/** Sends a request; resolves with the parsed body, rejects with an ApiError. */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (token.value) headers.authorization = `Bearer ${token.value}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(ROOT_ROUTES.has(path) ? path : `${API}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, null, `The server cannot be reached (${(error as Error).message})`);
  }
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // A proxy's HTML error page: the status says enough.
  }
  if (response.ok) return json as T;
  const error = (json as { error?: { code?: number; message?: string; details?: ErrorDetail[] } } | null)?.error;
  if (response.status === 401) role.value = 'none';
  throw new ApiError(response.status, error?.code ?? null, error?.message ?? `HTTP ${response.status}`, error?.details ?? []);
}

/** GET shorthand. */
export const get = <T>(path: string): Promise<T> => call<T>('GET', path);
/** POST shorthand. */
export const post = <T>(path: string, body?: unknown): Promise<T> => call<T>('POST', path, body);
/** PUT shorthand. */
export const put = <T>(path: string, body?: unknown): Promise<T> => call<T>('PUT', path, body);
