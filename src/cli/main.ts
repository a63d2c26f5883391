#!/usr/bin/env node
/**
 * The `sequencer` command line: `serve` (the default), `run <file>`, `validate <file>`, `emulate`.
 * Each command lives in its own module and returns the process exit code.
 */
const USAGE = `Usage: sequencer <command> [options]

Commands:
  serve                 run the server (default)
  run <file.json>       run one sequence locally with simulated devices
  validate <file.json>  check a definition and print every problem
  emulate               play ESP32 nodes over MQTT (--mqtt-url, --esp ESP_1,ESP_2)
`;

async function main(argv: string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  switch (command) {
    case 'serve':
      return (await import('./serve.command.ts')).serveCommand(rest);
    case 'run':
      return (await import('./run.command.ts')).runCommand(rest);
    case 'validate':
      return (await import('./validate.command.ts')).validateCommand(rest);
    case 'emulate':
      return (await import('./emulate.command.ts')).emulateCommand(rest);
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    default:
      // Flags without a command mean `serve` (so `npm start -- --port 0` works).
      if (command.startsWith('--')) return (await import('./serve.command.ts')).serveCommand(argv);
      process.stderr.write(`Unknown command '${command}'\n${USAGE}`);
      return 2;
  }
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
