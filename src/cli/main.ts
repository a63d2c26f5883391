#!/usr/bin/env node
/**
 * The `sequencer` command line: `serve` (the default), `run <file>`, `validate <file>`, `emulate`,
 * `backup <file>`.
 * Each command lives in its own module, declares its flags for the one parser (command-line.ts)
 * and returns the process exit code. A command's module is loaded only when it runs, so
 * `validate` does not pay for the server's start-up.
 */
import { execute, usageOf, VERSION, type Command } from './command-line.ts';

/** Every command, loaded on demand. */
const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  serve: () => import('./serve.command.ts'),
  run: () => import('./run.command.ts'),
  validate: () => import('./validate.command.ts'),
  emulate: () => import('./emulate.command.ts'),
  backup: () => import('./backup.command.ts'),
};

/** The overall help: every command with its summary. */
async function usage(): Promise<string> {
  const specs = await Promise.all(Object.values(COMMANDS).map(async (load) => (await load()).command.spec));
  const width = Math.max(...specs.map((spec) => `${spec.name} ${spec.operands?.names ?? ''}`.length)) + 2;
  const lines = specs.map((spec) => `  ${`${spec.name} ${spec.operands?.names ?? ''}`.padEnd(width)}${spec.summary.split('\n')[0]}`);
  return (
    `Usage: sequencer <command> [options]\n\nCommands:\n${lines.join('\n')}\n\n` +
    `sequencer <command> --help shows a command's options; sequencer --version the version.\n` +
    `Options without a command go to serve (npm start -- --port 0).\n`
  );
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (first === undefined || first.startsWith('-')) {
    if (first === '--help' || first === '-h') {
      process.stdout.write(await usage());
      return 0;
    }
    // Flags without a command mean `serve` (so `npm start -- --port 0` works).
    return execute((await COMMANDS.serve()).command, argv);
  }
  if (first === 'help') {
    const load = rest[0] === undefined ? undefined : COMMANDS[rest[0]];
    process.stdout.write(load ? usageOf((await load()).command.spec) : await usage());
    return 0;
  }
  const load = COMMANDS[first];
  if (!load) {
    process.stderr.write(`sequencer: unknown command '${first}'\n${await usage()}`);
    return 2;
  }
  return execute((await load()).command, rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0 || process.exitCode === undefined) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
