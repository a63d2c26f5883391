/** `sequencer run`. Placeholder until the command lands. */
export async function runCommand(_args: string[]): Promise<number> {
  process.stderr.write('sequencer run: not available yet\n');
  return 1;
}
