/**
 * Bearer tokens and their roles, compared in constant time: every configured token is compared
 * with `crypto.timingSafeEqual` on equal-length digests, whichever one matches and however long
 * the presented token is.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { roleOf } from '../../src/api/auth.ts';
import type { TokenConfig } from '../../src/config/server-config.ts';

const comparisons = vi.hoisted(() => [] as [number, number][]);
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return {
    ...actual,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      comparisons.push([a.byteLength, b.byteLength]);
      return actual.timingSafeEqual(a, b);
    },
  };
});

const tokens: TokenConfig[] = [
  { token: 'operator-token-1', role: 'operator' },
  { token: 'viewer-token', role: 'viewer' },
  { token: 'operator-token-2', role: 'operator' },
];

beforeEach(() => {
  comparisons.length = 0;
});

describe('roleOf', () => {
  it('gives each configured token its role, and none to anything else', () => {
    expect(roleOf(tokens, 'operator-token-1')).toBe('operator');
    expect(roleOf(tokens, 'viewer-token')).toBe('viewer');
    expect(roleOf(tokens, 'operator-token-2')).toBe('operator');
    for (const wrong of ['viewer-toke', 'viewer-token2', 'VIEWER-TOKEN', 'x', '']) expect(roleOf(tokens, wrong)).toBeNull();
    expect(roleOf(tokens, null)).toBeNull();
    expect(roleOf([], undefined)).toBe('operator');
  });

  it.each([['operator-token-1'], ['operator-token-2'], ['x'], ['a much longer token than any configured one']])(
    'compares %j with every configured token in constant time, on equal lengths',
    (presented) => {
      roleOf(tokens, presented);
      expect(comparisons).toHaveLength(tokens.length);
      for (const [a, b] of comparisons) expect(a).toBe(b);
    },
  );
});
