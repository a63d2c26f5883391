/**
 * `sequencer backup <file> [--url URL] [--token TOKEN] [--force]`: asks a running server for a
 * consistent copy of its database (`POST /api/v1/backup`, SQLite's online backup), writes it to
 * `<file>`, checks that it opens as a Sequencer database and says what it holds. The server keeps
 * running and taking runs. Exit 0 written, 1 the server refused or could not be reached, 2 bad
 * arguments or a file that is already there (without --force).
 */
import { createWriteStream, existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { networkReason } from '../logging/network-reason.ts';
import { redactUrl } from '../logging/redact-url.ts';
import { UsageError, type Command, type CommandSpec, type ParsedArgs } from './command-line.ts';

const FLAGS = {
  url: { type: 'string', value: 'URL', help: 'the running server (SEQUENCER_URL; default http://127.0.0.1:8000)' },
  token: { type: 'string', value: 'TOKEN', help: 'an operator token, when the server has tokens (SEQUENCER_TOKEN)' },
  force: { type: 'boolean', help: 'replace <file> when it exists' },
} as const;

const SPEC: CommandSpec<typeof FLAGS> = {
  name: 'backup',
  operands: { names: '<file>', min: 1, max: 1 },
  summary: "Write a consistent copy of a running server's database to a file (restore: serve --db <file>).",
  flags: FLAGS,
  notes: 'Exit codes: 0 written, 1 refused or unreachable, 2 bad arguments or <file> exists.',
};

/** `sequencer backup`. */
export const command: Command<typeof FLAGS> = { spec: SPEC, run: backup };

async function backup({ values, operands }: ParsedArgs<typeof FLAGS>): Promise<number> {
  const file = operands[0] as string;
  const base = values.url ?? (process.env.SEQUENCER_URL || 'http://127.0.0.1:8000');
  if (!URL.canParse(base) || !/^https?:$/.test(new URL(base).protocol)) throw new UsageError(`--url must be an http(s) URL such as http://127.0.0.1:8000 (got '${base}')`);
  if (existsSync(file) && values.force !== true) {
    process.stderr.write(`sequencer backup: ${file} already exists; give another name, or --force to replace it\n`);
    return 2;
  }
  const token = values.token ?? process.env.SEQUENCER_TOKEN;
  const url = new URL('api/v1/backup', base.endsWith('/') ? base : `${base}/`).toString();
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });
  } catch (error) {
    process.stderr.write(`sequencer backup: cannot reach ${redactUrl(base)}: ${networkReason(error, base)}\n`);
    return 1;
  }
  if (!response.ok || !response.body) {
    const body = (await response.json().catch(() => null)) as { error?: { code: number; message: string } } | null;
    const why = body?.error ? `${body.error.message} (${body.error.code})` : response.statusText;
    process.stderr.write(`sequencer backup: the server answered ${response.status}: ${why}\n`);
    return 1;
  }
  // Written aside and renamed whole: an interrupted copy never stands where a backup is expected.
  const partial = `${file}.partial`;
  try {
    await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), createWriteStream(partial));
    const summary = describe(partial);
    await rename(partial, file);
    process.stdout.write(`backup written to ${file}: ${summary}\n`);
    return 0;
  } catch (error) {
    await rm(partial, { force: true });
    process.stderr.write(`sequencer backup: ${(error as Error).message}\n`);
    return 1;
  }
}

/**
 * Makes the copy one self-contained file (the server's database is in WAL mode, and the copy says
 * so), checks that it is a sound Sequencer database, and says what it holds; throws when it is not.
 */
function describe(path: string): string {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('journal_mode = DELETE');
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new Error(`the copy failed its check (${String(check)})`);
    const runs = db.prepare('SELECT count(*) AS n FROM runs').get() as { n: number };
    const active = db.prepare("SELECT count(*) AS n FROM runs WHERE status IN ('pending', 'running', 'paused')").get() as { n: number };
    const templates = db.prepare('SELECT count(*) AS n FROM templates').get() as { n: number };
    const pages = db.pragma('page_count', { simple: true }) as number;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    return `${runs.n} runs (${active.n} unfinished), ${templates.n} templates, ${((pages * pageSize) / 1e6).toFixed(1)} MB`;
  } finally {
    db.close();
  }
}
