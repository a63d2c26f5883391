/** `sequencer emulate`. Placeholder until the command lands. */
export async function emulateCommand(_args: string[]): Promise<number> {
  process.stderr.write('sequencer emulate: not available yet\n');
  return 1;
}
