/**
 * Bearer-token roles (SPEC 7): `viewer` may read and watch, `operator` may do everything. With no
 * token configured every caller is an operator (the server then listens on loopback only).
 * Tokens are compared in constant time (SPEC 7): both sides are hashed to equal-length digests,
 * compared with `crypto.timingSafeEqual`, and every configured token is compared whatever matched,
 * so the answer's timing tells neither how much of a token was right nor which one it was.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { TokenConfig } from '../config/server-config.ts';

/** What a caller may do. */
export type Role = 'viewer' | 'operator';

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

/** The role of a presented token, or null when it is missing or unknown. */
export function roleOf(tokens: readonly TokenConfig[], presented: string | null | undefined): Role | null {
  if (tokens.length === 0) return 'operator';
  if (!presented) return null;
  const given = digest(presented);
  let role: Role | null = null;
  for (const token of tokens) {
    // No early exit: every configured token is compared, whichever matched.
    if (timingSafeEqual(given, digest(token.token)) && role === null) role = token.role;
  }
  return role;
}
