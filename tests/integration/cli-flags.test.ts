/**
 * The one argument parser of every `sequencer` command: the same flag syntax and the same refusals
 * everywhere, `--help` and `--version` on every command, and `--params` filling a template for
 * `run` and `validate`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { execute, parseCommandArgs, usageOf, type Command, type CommandSpec } from '../../src/cli/command-line.ts';
import { cli, ROOT } from '../helpers/cli.harness.ts';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const dir = mkdtempSync(join(tmpdir(), 'sequencer-cli-flags-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const spec = {
  name: 'try',
  operands: { names: '<file>', min: 1, max: 2 },
  summary: 'A command to try the parser on.',
  flags: {
    port: { type: 'string', value: 'N', help: 'a port' },
    token: { type: 'string', value: 'TOKEN', multiple: true, help: 'a token, again and again' },
    json: { type: 'boolean', help: 'a switch' },
  },
} as const satisfies CommandSpec;

describe('the argument parser', () => {
  it('reads "--flag value", "--flag=value", switches, repeated flags and operands', () => {
    expect(parseCommandArgs(spec, ['a.json', '--port', '1', '--token=x', '--json', '--token', 'y', 'b.json'])).toEqual({
      values: { port: '1', token: ['x', 'y'], json: true },
      operands: ['a.json', 'b.json'],
    });
  });

  it.each([
    [['a', '--colour', 'blue'], 'Unknown option --colour'],
    [['a', '--port'], '--port needs a value'],
    [['a', '--port', '--json'], '--port needs a value'],
    [['a', '--json=yes'], '--json takes no value'],
    [['a', 'b', 'c'], "Unexpected argument 'c'"],
    [['--json'], 'Missing <file>'],
  ])('refuses %j: %s', (args, message) => {
    expect(() => parseCommandArgs(spec, args)).toThrow(message);
  });

  it('answers --help (or -h) and --version before anything else is checked', () => {
    expect(parseCommandArgs(spec, ['--colour', '-h'])).toBe('help');
    expect(parseCommandArgs(spec, ['--version'])).toBe('version');
  });

  it('lists every flag with its value name in the usage, --help and --version included', () => {
    const usage = usageOf(spec);
    expect(usage).toMatch(/^Usage: sequencer try <file> \[options\]\n\nA command to try the parser on\.\n/);
    for (const line of ['--port N', '--token TOKEN', '--json', '-h, --help', '--version']) expect(usage).toContain(line);
  });
});

describe('every command', () => {
  const out: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    out.length = 0;
  });
  const capture = () => {
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
  };
  const commands: [string, () => Promise<{ command: Command }>][] = [
    ['serve', () => import('../../src/cli/serve.command.ts')],
    ['run', () => import('../../src/cli/run.command.ts')],
    ['validate', () => import('../../src/cli/validate.command.ts')],
    ['emulate', () => import('../../src/cli/emulate.command.ts')],
    ['backup', () => import('../../src/cli/backup.command.ts')],
  ];

  it.each(commands)('%s --help prints every flag it takes, and exits 0', async (name, load) => {
    const { command } = await load();
    capture();
    expect(await execute(command, ['--help'])).toBe(0);
    const usage = out.join('');
    expect(usage).toMatch(new RegExp(`^Usage: sequencer ${name} `));
    expect(Object.keys(command.spec.flags).length).toBeGreaterThan(0);
    for (const flag of Object.keys(command.spec.flags)) expect(usage).toContain(`--${flag}`);
  });

  it.each(commands)('%s --version prints the version, and a bad flag exits 2 with the usage', async (_name, load) => {
    const { command } = await load();
    capture();
    expect(await execute(command, ['--version'])).toBe(0);
    expect(out.join('')).toBe(`${VERSION}\n`);
    out.length = 0;
    expect(await execute(command, ['--no-such-flag'])).toBe(2);
    expect(out.join('')).toMatch(new RegExp(`^sequencer ${command.spec.name}: Unknown option --no-such-flag\nUsage: `));
  });
});

// Each test starts Node with tsx, which takes seconds on a busy machine.
describe('sequencer', { timeout: 30_000 }, () => {
  it('prints its version with --version', async () => {
    expect(await cli(['--version'])).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('lists every command with --help, and shows one command with help <command>', async () => {
    const all = await cli(['--help']);
    expect(all.code).toBe(0);
    for (const name of ['serve', 'run <file.json>', 'validate <file.json>', 'emulate', 'backup <file>']) expect(all.stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    const one = await cli(['help', 'validate']);
    expect(one.stdout).toMatch(/^Usage: sequencer validate <file\.json> \[options\]/);
    expect(one.stdout).toContain('--params JSON');
  });

  it('exits 2 on an unknown command', async () => {
    const { code, stderr } = await cli(['frobnicate']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^sequencer: unknown command 'frobnicate'\nUsage: sequencer <command>/);
  });
});

describe('templates with --params', { timeout: 30_000 }, () => {
  const template = join(dir, 'pulse.template.json');
  writeFileSync(
    template,
    JSON.stringify({
      sequence_id: 'pulse-{{zone}}',
      params: { zone: { type: 'integer', required: true, min: 1, max: 9 }, esp_id: { type: 'string', default: 'ESP_PULSE' } },
      steps: [
        { name: 'Valve of zone {{zone}} ON', action: { type: 'actuator_command', esp_id: '{{esp_id}}', gpio: '{{zone}}', command: 'ON' } },
        { name: 'Valve of zone {{zone}} OFF', action: { type: 'actuator_command', esp_id: '{{esp_id}}', gpio: '{{zone}}', command: 'OFF' } },
      ],
    }),
  );

  it('validate checks a template without values and lists its parameters', async () => {
    const { code, stdout } = await cli(['validate', 'docs/examples/flush-zone.template.json']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^valid template; parameters: zone \(integer, required\), esp_id \(string, required\), inlet_gpio \(integer, default 5\)/);
  });

  it('validate --params checks the sequence the values make', async () => {
    const filled = await cli(['validate', 'docs/examples/flush-zone.template.json', '--params', '{"zone": 3, "esp_id": "ESP_ZONE3", "flush_seconds": 20}']);
    expect(filled).toEqual({ code: 0, stdout: 'valid: 6 steps, estimated duration 30 s\n', stderr: '' });
    const wrong = await cli(['validate', 'docs/examples/flush-zone.template.json', '--params={"zone": "3"}']);
    expect(wrong.code).toBe(2);
    expect(wrong.stdout.trim().split('\n').map((line) => line.split(/ {2,}/).slice(0, 2))).toEqual([
      ['params.zone', '5600'],
      ['params.esp_id', '5600'],
    ]);
  });

  it('run --params fills the template and runs it to completion', async () => {
    const { code, stdout } = await cli(['run', template, '--params', '{"zone": 4}', '--sim-latency-ms', '0']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^run run-\S+ of pulse-4: 2 steps/);
    expect(stdout).toContain('ok      1/2  Valve of zone 4 ON  ESP_PULSE gpio 4 ON ok');
  });

  it('run without the required values starts nothing and names the missing parameter', async () => {
    const { code, stdout, stderr } = await cli(['run', template]);
    expect([code, stdout]).toEqual([2, '']);
    expect(stderr).toMatch(/^params\.zone {2}5600 {2}Missing required parameter 'zone'/m);
  });

  it('refuses --params that is not JSON, or on a plain definition, with exit code 2', async () => {
    const broken = await cli(['run', template, '--params', '{zone: 4}']);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/^sequencer run: --params is not valid JSON/);
    const plain = await cli(['validate', 'docs/examples/irrigation-zone.json', '--params', '{}']);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toContain('--params fills a template (a file with "params"); docs/examples/irrigation-zone.json is a plain definition');
  });
});
