/** `sequencer serve`. Placeholder until the command lands. */
export async function serveCommand(_args: string[]): Promise<number> {
  process.stderr.write('sequencer serve: not available yet\n');
  return 1;
}
