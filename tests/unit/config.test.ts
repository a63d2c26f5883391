import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, isLoopback, loadConfig } from '../../src/config/load-config.ts';
import { defaultConfig, nodeIdOf } from '../../src/config/server-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'sequencer-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function file(content: unknown): string {
  const path = join(dir, `file-${files++}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

/** The message of the ConfigError that loading throws. */
function failure(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    loadConfig(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('loadConfig did not throw');
}

describe('loadConfig', () => {
  it('gives the SPEC 12 defaults without flags, environment or file', () => {
    expect(loadConfig([], {})).toEqual(defaultConfig());
  });

  it('reads every flag, as "--flag value" and as "--flag=value"', () => {
    const config = loadConfig(
      [
        '--port', '0', '--host=localhost', '--db', ':memory:', '--driver', 'mqtt', '--mqtt-url', 'mqtt://broker:1883',
        '--mqtt-port=1884', '--token', 'op-secret', '--recovery', 'abort', '--max-concurrent', '5', '--sim-latency-ms', '3', '--inspect',
        '--log-level', 'debug', '--inspect-port=0', '--token', 'op-second',
      ],
      {},
    );
    expect(config).toMatchObject({
      port: 0,
      host: 'localhost',
      db: ':memory:',
      driver: 'mqtt',
      mqttUrl: 'mqtt://broker:1883',
      mqttPort: 1884,
      tokens: [{ token: 'op-secret', role: 'operator' }, { token: 'op-second', role: 'operator' }],
      recovery: 'abort',
      simLatencyMs: 3,
      inspect: true,
      inspectPort: 0,
      logLevel: 'debug',
      limits: { max_concurrent: 5 },
    });
  });

  it('reads the environment, and flags win over it', () => {
    const env = { PORT: '9000', HOST: '127.0.0.2', SEQUENCER_DB: '/tmp/x.db', SEQUENCER_DRIVER: 'mqtt', MQTT_URL: 'mqtt://m', SEQUENCER_TOKEN: 'env-token', SEQUENCER_MAX_CONCURRENT: '7', LOG_LEVEL: 'warn' };
    expect(loadConfig([], env)).toMatchObject({
      port: 9000, host: '127.0.0.2', db: '/tmp/x.db', driver: 'mqtt', mqttUrl: 'mqtt://m', tokens: [{ token: 'env-token', role: 'operator' }], limits: { max_concurrent: 7 }, logLevel: 'warn',
    });
    expect(loadConfig(['--port', '9001', '--max-concurrent', '8'], env)).toMatchObject({ port: 9001, limits: { max_concurrent: 8 } });
  });

  it('names the node of a PostgreSQL cluster by --node-id, SEQUENCER_NODE_ID or node_id in the file, else host name:port', () => {
    expect(loadConfig(['--db', 'postgres://db/seq', '--node-id', 'greenhouse-2'], { SEQUENCER_NODE_ID: 'env-node' })).toMatchObject({ db: 'postgres://db/seq', nodeId: 'greenhouse-2' });
    expect(loadConfig([], { SEQUENCER_NODE_ID: 'env-node' }).nodeId).toBe('env-node');
    expect(loadConfig(['--config', file({ node_id: 'file-node' })], {}).nodeId).toBe('file-node');
    expect(nodeIdOf(loadConfig(['--port', '8001'], {}))).toBe(`${hostname()}:8001`);
    expect(failure(['--node-id', 'two words'])).toMatch(/--node-id/);
  });

  it('ignores empty environment variables', () => {
    expect(loadConfig([], { PORT: '', SEQUENCER_TOKEN: '' })).toMatchObject({ port: 8000, tokens: [] });
  });

  it.each([
    [['--port', '70000'], '--port must be an integer from 0 to 65535'],
    [['--port', '12abc'], "--port must be an integer from 0 to 65535 (got '12abc')"],
    [['--max-concurrent', '0'], '--max-concurrent must be an integer from 1'],
    [['--driver', 'zigbee'], '--driver must be one of sim, mqtt'],
    [['--recovery', 'later'], '--recovery must be one of resume, abort'],
    [['--log-level', 'loud'], '--log-level must be one of fatal, error, warn, info, debug, trace, silent'],
    [['--inspect=yes'], '--inspect takes no value'],
    [['--mqtt-url', 'not a url'], '--mqtt-url must be a URL'],
    [['--port'], '--port needs a value'],
    [['--port', '--host', 'x'], '--port needs a value'],
    [['--colour', 'blue'], 'Unknown option --colour'],
    [['serve-now'], "Unexpected argument 'serve-now'"],
    [['--token', ''], '--token must be a non-empty token'],
  ])('refuses %j: %s', (argv, message) => {
    expect(failure(argv)).toContain(message);
  });

  it('names the environment variable of a bad value', () => {
    expect(failure([], { SEQUENCER_MAX_CONCURRENT: 'many' })).toContain('SEQUENCER_MAX_CONCURRENT must be an integer');
  });

  describe('--config file', () => {
    const full = {
      limits: { max_concurrent: 10, max_steps: 20, max_duration_seconds: 600, history_days: 2 },
      rate_limits: { starts_per_second: 5, commands_per_second: 0, commands_per_esp_per_second: 3 },
      safety: { actuators: [{ match: 'ESP_12AB34CD:5', allow: ['ON', 'OFF'], pwm_max: 0.8, max_on_seconds: 600 }] },
      tokens: [{ token: 'viewer-1', role: 'viewer' }],
      mqtt: { username: 'u', password: 'p', kaiser_id: 'k1', url: 'mqtts://broker:8883' },
    };

    it('applies limits, rate limits, safety policy, tokens and mqtt details', () => {
      const config = loadConfig(['--config', file(full)], {});
      expect(config.limits).toEqual(full.limits);
      expect(config.rate_limits).toEqual(full.rate_limits);
      expect(config.safety.actuators[0]).toMatchObject({ match: 'ESP_12AB34CD:5', pwm_max: 0.8 });
      expect(config.tokens).toEqual([{ token: 'viewer-1', role: 'viewer' }]);
      expect(config.mqtt).toMatchObject({ username: 'u', password: 'p', kaiserId: 'k1' });
      expect(config.mqttUrl).toBe('mqtts://broker:8883');
    });

    it("takes the nodes' heartbeat interval and the heartbeats they may miss before they count as offline", () => {
      const config = loadConfig(['--config', file({ mqtt: { heartbeat_interval_seconds: 30, missed_heartbeats: 5 } })], {});
      expect(config.mqtt).toMatchObject({ kaiserId: 'god', heartbeatIntervalSeconds: 30, missedHeartbeats: 5 });
      expect(failure(['--config', file({ mqtt: { missed_heartbeats: 0 } })], {})).toContain('mqtt.missed_heartbeats:');
      expect(failure(['--config', file({ mqtt: { heartbeat_interval_seconds: 0 } })], {})).toContain('mqtt.heartbeat_interval_seconds:');
    });

    it('takes the safe-state timeout from safety.safe_state_timeout_seconds, 2 s by default', () => {
      expect(defaultConfig().safety.safe_state_timeout_seconds).toBe(2);
      expect(loadConfig(['--config', file({ safety: { safe_state_timeout_seconds: 0.5 } })], {}).safety).toEqual({ actuators: [], safe_state_timeout_seconds: 0.5 });
    });

    it('keeps defaults for keys the file leaves out', () => {
      const config = loadConfig(['--config', file({ limits: { max_steps: 10 } })], {});
      expect(config.limits).toEqual({ ...defaultConfig().limits, max_steps: 10 });
    });

    it('lets flags and environment win over the file, and adds tokens from every source', () => {
      const config = loadConfig(['--config', file(full), '--max-concurrent', '99', '--token', 'op-1'], { SEQUENCER_TOKEN: 'op-env' });
      expect(config.limits.max_concurrent).toBe(99);
      expect(config.tokens).toEqual([
        { token: 'viewer-1', role: 'viewer' },
        { token: 'op-env', role: 'operator' },
        { token: 'op-1', role: 'operator' },
      ]);
    });

    it.each([
      [{ limits: { max_concurrent: 0 } }, 'limits.max_concurrent:'],
      [{ limits: { max_concurrent: 'lots' } }, 'limits.max_concurrent:'],
      [{ limits: { max_concurent: 5 } }, 'limits.max_concurent: unknown key'],
      [{ colour: 'blue' }, 'colour: unknown key'],
      [{ rate_limits: { starts_per_second: -1 } }, 'rate_limits.starts_per_second:'],
      [{ safety: { actuators: [{ match: 'ESP_1:5', pwm_max: 2 }] } }, 'safety.actuators[0].pwm_max:'],
      [{ safety: { actuators: [{ match: 'nonsense' }] } }, 'safety.actuators[0].match:'],
      [{ safety: { safe_state_timeout_seconds: 0 } }, 'safety.safe_state_timeout_seconds:'],
      [{ tokens: [{ token: 'x', role: 'admin' }] }, 'tokens[0].role:'],
      [[], '(root):'],
    ])('stops with the path of a bad key: %j', (content, message) => {
      const path = file(content);
      const text = failure(['--config', path]);
      expect(text).toContain(`Invalid config file ${path}`);
      expect(text).toContain(message);
    });

    it('stops when the file is missing or not JSON', () => {
      expect(failure(['--config', join(dir, 'missing.json')])).toContain('Cannot read config file');
      expect(failure(['--config', file('{ "limits": ')])).toContain('is not valid JSON');
    });
  });

  describe('--tokens-file', () => {
    it('adds viewer and operator tokens', () => {
      const path = file([{ token: 'v', role: 'viewer' }, { token: 'o', role: 'operator' }]);
      expect(loadConfig(['--tokens-file', path], {}).tokens).toEqual([
        { token: 'v', role: 'viewer' },
        { token: 'o', role: 'operator' },
      ]);
    });

    it('stops with the path of a bad entry', () => {
      expect(failure(['--tokens-file', file([{ token: 'has space', role: 'viewer' }])])).toContain('tokens[0].token:');
    });
  });

  describe('without a token', () => {
    it('refuses an address other than loopback', () => {
      expect(failure(['--host', '0.0.0.0'])).toContain('Refusing to listen on 0.0.0.0 without a token');
      expect(failure([], { HOST: '192.168.1.20' })).toContain('Refusing to listen on 192.168.1.20');
    });

    it('allows any address once a token is configured', () => {
      expect(loadConfig(['--host', '0.0.0.0', '--token', 't'], {}).host).toBe('0.0.0.0');
    });

    it('knows which addresses are loopback', () => {
      expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1'].every(isLoopback)).toBe(true);
      expect(['0.0.0.0', '10.0.0.1', '::', 'example.com'].some(isLoopback)).toBe(false);
    });
  });
});
