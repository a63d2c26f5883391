/**
 * A real Mosquitto broker for the MQTT tests and the benchmark: found on this machine, started on
 * a free loopback port with the settings docs/mqtt.md recommends, killed like a crash and brought
 * back on the same port.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, chmodSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Why the Mosquitto variants are skipped on a machine without the binary. */
export const MOSQUITTO_MISSING = 'no mosquitto binary on PATH, /usr/sbin or /usr/local/sbin';

/** A running Mosquitto the caller owns. */
export interface MosquittoBroker {
  /** `mqtt://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** The version Mosquitto announced, e.g. `2.0.11`. */
  readonly version: string;
  /** SIGKILL, like a crash: clients see their connection drop. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same configuration. */
  restart(): Promise<void>;
  /** Idempotent. Kills it and removes its configuration. */
  close(): Promise<void>;
  /** What the running broker has logged so far (with `logMessages`, a line per PUBLISH it received, naming its client). */
  log(): string;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The `mosquitto` binary on PATH, `/usr/sbin` or `/usr/local/sbin` (Debian puts it in sbin), or null. */
export function findMosquitto(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin'].filter(Boolean);
  return dirs.map((dir) => join(dir, 'mosquitto')).find(isExecutable) ?? null;
}

/** A loopback TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

type Running = { child: ChildProcess | null; version: string; log: () => string };

async function spawnMosquitto(bin: string, config: string): Promise<Running> {
  const child = spawn(bin, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  const version = await new Promise<string>((resolve, reject) => {
    // Keep reading stderr for the broker's whole life, or a full pipe would block it.
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const running = /mosquitto version (\S+) running/.exec(output);
      if (running) resolve(running[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`mosquitto exited (${code}): ${output}`)));
  });
  return { child, version, log: () => output };
}

/** Broker users and what they may do: `users` maps a name to its password, `acl` is an acl_file. */
export interface MosquittoAuth {
  users: Record<string, string>;
  acl: string;
}

/** The `mosquitto_passwd` binary next to the broker, or null. */
export function findMosquittoPasswd(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/sbin'].filter(Boolean);
  return dirs.map((dir) => join(dir, 'mosquitto_passwd')).find(isExecutable) ?? null;
}

/**
 * Starts `bin` on a free loopback port; resolves once it accepts connections. With `auth`,
 * anonymous clients are refused and every user is held to the ACL (needs `mosquitto_passwd`).
 * With `logMessages`, the broker logs every packet it receives and which client sent it.
 */
export async function startMosquitto(bin: string, auth?: MosquittoAuth, { logMessages = false } = {}): Promise<MosquittoBroker> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sequencer-mosquitto-'));
  const config = join(dir, 'mosquitto.conf');
  // Mosquitto before 2.0.13 (Debian 12 ships 2.0.11) stalls QoS 2 messages queued beyond a
  // subscriber's inflight window (default 20), and without TCP_NODELAY a lone command waits about
  // 40 ms for a delayed ACK; see docs/mqtt.md.
  const settings = ['persistence false', 'log_dest stderr', 'max_inflight_messages 0', 'set_tcp_nodelay true'];
  if (auth) {
    const passwd = join(dir, 'passwd');
    const tool = findMosquittoPasswd() as string;
    Object.entries(auth.users).forEach(([user, password], i) => execFileSync(tool, ['-b', ...(i === 0 ? ['-c'] : []), passwd, user, password]));
    writeFileSync(join(dir, 'acl'), auth.acl);
    // Started as root, Mosquitto drops to its own user before it reads these two files.
    for (const path of [dir, passwd]) chmodSync(path, 0o755);
    settings.push('allow_anonymous false', `password_file ${passwd}`, `acl_file ${join(dir, 'acl')}`);
  } else {
    settings.push('allow_anonymous true');
  }
  if (logMessages) settings.push('log_type all');
  writeFileSync(config, [`listener ${port} 127.0.0.1`, ...settings, ''].join('\n'));
  let running: Running = await spawnMosquitto(bin, config);
  const kill = async (): Promise<void> => {
    const { child } = running;
    if (!child || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    running = { ...running, child: null };
  };
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    get version() {
      return running.version;
    },
    kill,
    restart: async () => {
      running = await spawnMosquitto(bin, config);
    },
    close: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => running.log(),
  };
}
