import { describe, expect, it } from 'vitest';
import { isoTime } from '../../src/domain/iso-time.ts';

describe('isoTime', () => {
  it('writes every time as toISOString does, within a second, across seconds and in any order, also seconds that share a slot', () => {
    const base = Date.UTC(2026, 11, 4, 23, 59, 59, 990);
    const times = [base, base + 1, base + 9, base + 10, base + 99, base + 100, base + 999, base + 5, base - 1000, base + 86_400_000, base + 0.7, base];
    // 64 s apart: the same slot of the cache, another second.
    times.push(base + 64_000, base, base - 64_000 + 3, base + 128_000 + 7);
    times.push(0, 1, -1, -1001, 253_402_300_799_999, 253_402_300_800_000, 253_402_300_800_001, -62_167_219_200_001, 1.9);
    for (const ms of times) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });
});
