/**
 * Bearer-token roles (SPEC 7): `viewer` may read and watch, `operator` may do everything. With no
 * token configured every caller is an operator (the server then listens on loopback only).
 */
import type { TokenConfig } from '../config/server-config.ts';

/** What a caller may do. */
export type Role = 'viewer' | 'operator';

/** The role of a presented token, or null when it is missing or unknown. */
export function roleOf(tokens: readonly TokenConfig[], presented: string | null | undefined): Role | null {
  if (tokens.length === 0) return 'operator';
  if (!presented) return null;
  return tokens.find((t) => t.token === presented)?.role ?? null;
}
