/**
 * A database the server cannot use stops `sequencer serve` at start with a one-line message and
 * the exit code of its reason, and the file is left exactly as it was (SPEC 11, issue 4).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { killAll, progressOf, serveUntilExit, startRun, startServe, stream } from './recovery-process.harness.ts';

let dir: string;
let db: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sequencer-store-faults-'));
  db = join(dir, 's.db');
});

afterEach(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('a database that cannot be used', { timeout: 60_000 }, () => {
  it('a file that is not a database: exit 3, a message naming it, the file untouched', async () => {
    const garbage = Buffer.from('these are greenhouse notes, not a database\n'.repeat(200));
    writeFileSync(db, garbage);

    const { code, stdout, stderr } = await serveUntilExit(['--db', db]);

    expect(code).toBe(3);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^sequencer: cannot use the database \\(corrupt\\): database ${db} is not a SQLite database or is damaged .*left untouched`)),
    ]);
    expect(readFileSync(db).equals(garbage)).toBe(true);
  });

  it('a Sequencer database with damaged pages: exit 3, the file untouched', async () => {
    const server = await startServe(['--db', db, '--sim-latency-ms', '0']);
    const events = await stream(server.url);
    for (let i = 0; i < 20; i++) {
      const runId = await startRun(server.url, { steps: [{ name: 'x'.repeat(150), delay_seconds: 0 }], description: 'd'.repeat(400) });
      await events.ended(runId);
    }
    events.close();
    await server.kill();
    const checkpoint = new Database(db);
    checkpoint.pragma('wal_checkpoint(TRUNCATE)');
    checkpoint.close();
    const bytes = readFileSync(db);
    // Pages 2 and up hold the tables: overwrite the middle of the file, keep the header valid.
    const pageSize = bytes.readUInt16BE(16);
    expect(bytes.length).toBeGreaterThan(4 * pageSize);
    bytes.fill(0xa5, 2 * pageSize + 8, bytes.length - pageSize);
    writeFileSync(db, bytes);

    const { code, stderr } = await serveUntilExit(['--db', db]);

    expect(code).toBe(3);
    expect(stderr).toMatch(/cannot use the database \(corrupt\)/);
    expect(readFileSync(db).equals(bytes)).toBe(true);
  });

  it('a database another server holds: exit 4 and a message; the running server keeps its runs', async () => {
    const first = await startServe(['--db', db, '--sim-latency-ms', '0']);
    const events = await stream(first.url);
    const runId = await startRun(first.url, { steps: [{ name: 'Wait', delay_seconds: 0 }] });
    await events.ended(runId);

    const second = await serveUntilExit(['--db', db]);

    expect(second.code).toBe(4);
    expect(second.stdout).toBe('');
    expect(second.stderr).toMatch(new RegExp(`cannot use the database \\(locked\\): database ${db} is locked by another process .*is another Sequencer using it\\?`));
    expect((await progressOf(first.url, runId)).status).toBe('completed');
    const next = await startRun(first.url, { steps: [{ name: 'Wait', delay_seconds: 0 }] });
    await events.ended(next);
    events.close();
  });

  it('a SQLite database of another application: exit 8, untouched', async () => {
    const other = new Database(db);
    other.exec("CREATE TABLE plants (name TEXT); INSERT INTO plants VALUES ('basil')");
    other.close();
    const bytes = readFileSync(db);

    const { code, stderr } = await serveUntilExit(['--db', db]);

    expect(code).toBe(8);
    expect(stderr).toMatch(/\(foreign\): database .* is a SQLite database of another application; it was left untouched/);
    expect(readFileSync(db).equals(bytes)).toBe(true);
  });

  it('a database of a newer Sequencer: exit 7, untouched', async () => {
    const newer = new Database(db);
    newer.exec('CREATE TABLE runs (run_id TEXT)');
    newer.pragma('user_version = 999');
    newer.close();
    const bytes = readFileSync(db);

    const { code, stderr } = await serveUntilExit(['--db', db]);

    expect(code).toBe(7);
    expect(stderr).toMatch(/\(newer-schema\): database .* has schema version 999/);
    expect(readFileSync(db).equals(bytes)).toBe(true);
  });
});
