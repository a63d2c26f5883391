/**
 * The `sequencer run` and `sequencer validate` commands as a user meets them: a real process
 * running the example definitions against simulated nodes, its exit code and its lines.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, ROOT, type Outcome } from '../helpers/cli.harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'sequencer-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

// Each test starts Node with tsx, which takes seconds on a busy machine.
describe('sequencer run', { timeout: 30_000 }, () => {
  it('runs the irrigation example to completion, a line per step, and exits 0', async () => {
    const { code, stdout } = await cli(['run', 'docs/examples/irrigation-zone.json', '--sim-latency-ms', '0']);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^run run-\S+ of irrigation-zone-1: 4 steps/);
    expect(lines.filter((line) => /^ok +\d\/4 /.test(line)).map((line) => line.split(/ {2,}/)[1])).toEqual([
      '1/4',
      '2/4',
      '3/4',
      '4/4',
    ]);
    expect(stdout).toContain('ok      1/4  Open valve  ESP_12AB34CD gpio 5 ON ok');
    expect(stdout).toContain('notice  [info] Zone 1 watered: irrigation-zone-1: valve closed after watering');
    expect(lines.at(-1)).toMatch(/^completed in [\d.]+ m?s: 4 ok, 0 failed$/);
  });

  it('prints plain lines without escape codes when stdout is not a terminal', async () => {
    const { stdout } = await cli(['run', 'docs/examples/irrigation-zone.json', '--sim-latency-ms', '0']);
    expect(stdout).not.toContain('\u001b');
    expect(stdout).not.toContain('\r');
  });

  it('off a terminal, prints a line as each step starts, with the wait it holds, before its result', async () => {
    const { code, stdout } = await cli(['run', 'docs/examples/irrigation-zone.json', '--sim-latency-ms', '0']);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    const at = (prefix: string) => lines.findIndex((line) => line.startsWith(prefix));
    expect(lines.filter((line) => line.startsWith('start '))).toEqual([
      'start   1/4  Open valve',
      'start   2/4  Water  (waits 2 s)',
      'start   3/4  Close valve',
      'start   4/4  Tell the operator',
    ]);
    for (const step of ['1/4', '2/4', '3/4', '4/4']) expect(at(`start   ${step}`)).toBeLessThan(at(`ok      ${step}`));
    expect(at('ok      1/4')).toBeLessThan(at('start   2/4'));
  });

  it("on a terminal, the bar shows the step with its elapsed time and what is left of its wait", async () => {
    // `script` gives the command a real terminal; its output is what a person sees, escape codes and all.
    const command = `${process.execPath} --import tsx src/cli/main.ts run docs/examples/irrigation-zone.json --sim-latency-ms 0`;
    const { code, stdout } = await new Promise<Outcome>((resolve, reject) => {
      const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      child.on('error', reject);
      child.on('close', (exit) => resolve({ code: exit, stdout: out, stderr: '' }));
    });
    expect(code).toBe(0);
    // Each redraw of the bar starts with a cursor move: split there as at line ends.
    const screen = stdout.split(/\u001b\[[0-9;?]*[A-Za-z]|[\r\n]+/);
    expect(screen).toContainEqual(expect.stringMatching(/ 25% \| 1\/4 steps \| 2\/4 Water \| [\d.]+ m?s elapsed, [\d.]+ m?s left$/));
    expect(screen).toContainEqual(expect.stringMatching(/^ok {6}2\/4 {2}Water {2}Waited 2 s/));
    expect(screen.filter((line) => line.startsWith('start '))).toEqual([]);
  });

  it('aborts the ventilation example at its failing step, turns the fan OFF in cleanup, and exits 1', async () => {
    const { code, stdout } = await cli(['run', 'docs/examples/ventilation-abort.json', '--sim-latency-ms', '0']);
    expect(code).toBe(1);
    const lines = stdout.trim().split('\n');
    const at = (prefix: string) => lines.findIndex((line) => line.startsWith(prefix));
    expect(at('ok      1/4  Fan to 80 %')).toBeGreaterThan(0);
    expect(at('failed  3/4  Report to building management')).toBeGreaterThan(at('ok      1/4'));
    expect(at('ok      cleanup 1  Fan OFF  ESP_VENT0002 gpio 12 OFF ok')).toBeGreaterThan(at('failed  3/4'));
    expect(stdout).not.toContain('Fan to 30 %');
    expect(lines.at(-1)).toMatch(/^failed after .* \(5614\): Step 'Report to building management' failed/);
  });

  it('prints only the final progress object with --json', async () => {
    const { code, stdout } = await cli(['run', 'docs/examples/irrigation-zone.json', '--json', '--sim-latency-ms', '0']);
    expect(code).toBe(0);
    const progress = JSON.parse(stdout) as { status: string; progress_percent: number; step_results: { step_name: string; success: boolean }[] };
    expect(progress.status).toBe('completed');
    expect(progress.progress_percent).toBe(100);
    expect(progress.step_results.map((r) => [r.step_name, r.success])).toEqual([
      ['Open valve', true],
      ['Water', true],
      ['Close valve', true],
      ['Tell the operator', true],
    ]);
  });

  it('cancels the run on Ctrl-C, runs its cleanup steps, and exits 130', async () => {
    const { code, stdout } = await cli(['run', 'docs/examples/irrigation-zone.json', '--sim-latency-ms', '0'], (line, signal) => {
      if (line.startsWith('ok      1/4')) signal('SIGINT');
    });
    expect(code).toBe(130);
    expect(stdout).toContain('interrupted: cancelling the run');
    expect(stdout).toMatch(/failed  2\/4  Water  Cancelled: Interrupted from the command line \(5612\)/);
    expect(stdout).toContain('ok      cleanup 1  Close valve  ESP_12AB34CD gpio 5 OFF ok');
    expect(stdout).not.toContain('3/4');
    expect(stdout.trim().split('\n').at(-1)).toMatch(/^cancelled after .* \(5612\)/);
  });

  it('lists every problem of an invalid definition with path and code, and exits 2 without running', async () => {
    const path = file('invalid-run.json', JSON.stringify({ steps: [{ delay_seconds: 5000 }] }));
    const { code, stdout, stderr } = await cli(['run', path]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('is not a valid sequence');
    expect(stderr).toMatch(/^steps\[0\]\.delay_seconds {2}5605 {2}/m);
  });

  it('exits 2 with a clear message for a missing file or bad JSON', async () => {
    const missing = await cli(['run', join(dir, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read');
    expect(missing.stderr).toContain('no such file');
    const broken = await cli(['run', file('broken.json', '{"steps": [')]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('is not valid JSON');
  });
});

describe('sequencer validate', { timeout: 30_000 }, () => {
  it('says valid with the number of steps and the estimated duration, and exits 0', async () => {
    const { code, stdout } = await cli(['validate', 'docs/examples/irrigation-zone.json']);
    expect(code).toBe(0);
    expect(stdout).toBe('valid: 4 steps, 1 cleanup step, estimated duration 2 s\n');
  });

  it('prints each problem as path, code and message, and exits 2', async () => {
    const path = file(
      'invalid.json',
      JSON.stringify({
        steps: [
          { action: { type: 'actuator_command', esp_id: 'ESP_1', gpio: 5, command: 'ON' } },
          { name: 'No action' },
          { action: { type: 'teleport' } },
          { delay_seconds: 5000 },
        ],
      }),
    );
    const { code, stdout } = await cli(['validate', path]);
    expect(code).toBe(2);
    const problems = stdout.trim().split('\n').map((line) => line.split(/ {2,}/).slice(0, 2));
    expect(problems).toEqual(
      expect.arrayContaining([
        ['steps[1]', '5604'],
        ['steps[2].action.type', '5603'],
        ['steps[3].delay_seconds', '5605'],
      ]),
    );
    expect(problems).toHaveLength(3);
  });

  it.each([['run'], ['validate']])('%s --help prints its usage on stdout and exits 0', async (command) => {
    const { code, stdout, stderr } = await cli([command, '--help']);
    expect([code, stderr]).toEqual([0, '']);
    expect(stdout).toMatch(new RegExp(`^Usage: sequencer ${command} <file.json>`));
  });

  it('exits 2 for a file that is not JSON', async () => {
    const { code, stderr } = await cli(['validate', file('text.json', 'water zone 1 please')]);
    expect(code).toBe(2);
    expect(stderr).toContain('is not valid JSON');
  });
});
