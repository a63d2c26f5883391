import { describe, expect, it } from 'vitest';
import { isoTime } from '../../src/domain/iso-time.ts';

describe('isoTime', () => {
  it('writes what Date#toISOString writes, across leap years, day and year ends, and the four-digit range', () => {
    const times = [
      0, 1, 999, 86_399_999, 86_400_000, 951_782_400_000, 951_868_799_999, 1_796_305_045_114, 4_107_542_399_999,
      253_402_300_799_999, 253_402_300_800_000, -1, -62_167_219_200_000, 1_796_305_045_114.7,
    ];
    let seed = 7;
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 48_271) % 2_147_483_647;
      times.push(Math.floor((seed / 2_147_483_647) * 253_402_300_800_000));
    }
    for (const ms of times) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });

  it('refuses an invalid time as Date does', () => {
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
  });
});
