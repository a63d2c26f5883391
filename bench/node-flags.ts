/**
 * The V8 flags `npm start` gives the server (package.json's `start` and `sequencer` scripts: keep
 * them alike; docs/operations.md names them for a service unit or container).
 * Every process a benchmark measures, the floor and the baseline as much as the server, runs with
 * them, so a figure is the server's and a ratio compares like with like.
 * - `--max-semi-space-size=32`: a young generation of 32 MB, in which most per-event garbage dies.
 * - `--no-allocation-site-pretenuring`: a run's state lives for seconds or hours, so V8 soon marks
 *   the places that allocate it (XState's snapshot and context copies, among others) as making
 *   long-lived objects and allocates there straight in the old generation; every later copy, dead
 *   at the next transition, then fills the old generation until a mark-compact (docs/benchmarks.md).
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32', '--no-allocation-site-pretenuring'];

/** `NODE_FLAGS` that `argv` (a process's `execArgv`) does not already set, by flag name. */
export function missingFlags(argv: readonly string[]): string[] {
  const name = (flag: string) => flag.split('=')[0];
  return NODE_FLAGS.filter((flag) => !argv.some((given) => name(given) === name(flag)));
}
