import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/domain/errors.ts';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

/** The table rows of docs/errors.md by code: [code, name, http, message, when, what to do]. */
const rows = new Map(
  doc
    .split('\n')
    .filter((line) => /^\|\s*\d{4}\s*\|/.test(line))
    .map((line) => {
      const cells = line.split('|').slice(1, -1).map((cell) => cell.trim());
      return [Number(cells[0]), cells] as const;
    }),
);

describe('docs/errors.md', () => {
  it('documents every code of the registry', () => {
    const missing = [...ERRORS.keys()].filter((code) => !rows.has(code));
    expect(missing).toEqual([]);
  });

  it('names no code that is not in the registry', () => {
    const named = new Set([...doc.matchAll(/\b5[6-9]\d\d\b/g)].map((m) => Number(m[0])));
    const stale = [...named].filter((code) => !ERRORS.has(code));
    expect(stale).toEqual([]);
  });

  it.each([...ERRORS.values()])('the row of $code has its name, HTTP status, message and guidance', (info) => {
    const row = rows.get(info.code);
    expect(row).toBeDefined();
    const [, name, http, message, when, todo] = row as readonly string[];
    expect(name).toBe(info.name);
    if (info.http === null) expect(['(status)', '(log)']).toContain(http);
    else expect(http?.split(' / ')[0]).toBe(String(info.http));
    expect(message).toBe(info.message);
    expect(when?.length).toBeGreaterThan(10);
    expect(todo?.length).toBeGreaterThan(10);
  });
});
