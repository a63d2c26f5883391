import { describe, expect, it } from 'vitest';
import { newRunId } from '../../src/domain/run-id.ts';

describe('run ids', () => {
  const at = Date.UTC(2026, 11, 4, 18, 30);

  it('carry the ms they were made at in their first 48 bits', () => {
    expect(parseInt(newRunId(at).slice(4, 17).replace('-', ''), 16)).toBe(at);
  });

  it('differ when made in the same ms', () => {
    expect(new Set(Array.from({ length: 1000 }, () => newRunId(at))).size).toBe(1000);
  });
});
