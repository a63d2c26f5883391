/** `sequencer validate`. Placeholder until the command lands. */
export async function validateCommand(_args: string[]): Promise<number> {
  process.stderr.write('sequencer validate: not available yet\n');
  return 1;
}
