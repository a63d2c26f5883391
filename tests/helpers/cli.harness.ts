/**
 * Runs the `sequencer` command line from source in a child process, as a user would, and collects
 * its exit code and output.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** The repository root, the working directory of every command. */
export const ROOT = join(import.meta.dirname, '..', '..');

/** What a finished command left behind. */
export interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `onLine` sees each stdout line as it arrives and may signal the process. */
export function cli(args: string[], onLine?: (line: string, signal: (name: NodeJS.Signals) => void) => void): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) onLine?.(line, (name) => child.kill(name));
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
