/**
 * The one argument parser of every `sequencer` command (SPEC 12), on `util.parseArgs`. A command
 * declares its flags once (type, value name, help line); from that declaration come the parsing,
 * the `--help` text and the messages for bad arguments, so every command reads `--flag value` and
 * `--flag=value` alike, knows `--help` and `--version`, and refuses what it does not know the same way.
 */
import { parseArgs } from 'node:util';
import packageJson from '../../package.json' with { type: 'json' };

/** One flag of a command. */
export interface FlagSpec {
  /** `string` takes a value (`--port 0`, `--port=0`); `boolean` is a switch. */
  type: 'string' | 'boolean';
  /** A one-letter alias (`-h`). */
  short?: string;
  /** The value's name in the help text (`N`, `FILE`, `URL`); string flags only. */
  value?: string;
  /** May be given more than once; every value is kept, in order. */
  multiple?: boolean;
  /** One line of help; mention the environment variable and the default here. */
  help: string;
}

/** The flags of a command, by long name. */
export type FlagSpecs = Record<string, FlagSpec>;

/** What a command takes and how it is described. */
export interface CommandSpec<F extends FlagSpecs = FlagSpecs> {
  /** The command's word (`run`). */
  name: string;
  /** Positional arguments as the usage line names them (`<file.json>`); none when absent. */
  operands?: { names: string; min: number; max: number };
  /** One line for `sequencer --help`, and the first line of the command's own help. */
  summary: string;
  flags: F;
  /** Lines after the flags in the command's help (examples, exit codes). */
  notes?: string;
}

type ValueOf<S extends FlagSpec> = S['type'] extends 'boolean' ? boolean : S['multiple'] extends true ? string[] : string;

/** Parsed arguments: each flag's value (undefined when absent) and the operands. */
export interface ParsedArgs<F extends FlagSpecs> {
  values: { [K in keyof F]?: ValueOf<F[K]> };
  operands: string[];
}

/** A command: its declaration and what it does with parsed arguments (resolves with the exit code). */
export interface Command<F extends FlagSpecs = FlagSpecs> {
  spec: CommandSpec<F>;
  run(args: ParsedArgs<F>): Promise<number>;
}

/** Arguments that cannot be used; the message says which and why. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The version of this build, as `sequencer --version` prints it. */
export const VERSION: string = packageJson.version;

/** Flags every command knows. */
const COMMON_FLAGS = {
  help: { type: 'boolean', short: 'h', help: 'print this help and exit' },
  version: { type: 'boolean', help: 'print the version and exit' },
} as const satisfies FlagSpecs;

/** The command's help text: usage line, summary, one line per flag, notes. */
export function usageOf(spec: CommandSpec): string {
  const operands = spec.operands ? ` ${spec.operands.names}` : '';
  const flags = { ...spec.flags, ...COMMON_FLAGS };
  const left = Object.entries(flags).map(([name, flag]: [string, FlagSpec]) => {
    const short = flag.short ? `-${flag.short}, ` : '';
    return `  ${short}--${name}${flag.type === 'string' ? ` ${flag.value ?? 'VALUE'}` : ''}`;
  });
  const width = Math.max(...left.map((text) => text.length)) + 2;
  const lines = Object.values(flags).map((flag: FlagSpec, index) => `${(left[index] as string).padEnd(width)}${flag.help}`);
  const notes = spec.notes ? `\n${spec.notes.trimEnd()}\n` : '';
  return `Usage: sequencer ${spec.name}${operands} [options]\n\n${spec.summary}\n\n${lines.join('\n')}\n${notes}`;
}

/**
 * Parses a command's arguments. Returns `help` or `version` when asked for; throws UsageError for
 * an unknown flag, a string flag without its value, a switch given a value, or too few or too many
 * operands.
 */
export function parseCommandArgs<F extends FlagSpecs>(spec: CommandSpec<F>, args: readonly string[]): ParsedArgs<F> | 'help' | 'version' {
  const flags: FlagSpecs = { ...spec.flags, ...COMMON_FLAGS };
  const options = Object.fromEntries(
    Object.entries(flags).map(([name, flag]) => [name, { type: flag.type, ...(flag.short ? { short: flag.short } : {}), ...(flag.multiple ? { multiple: true } : {}) }]),
  );
  // Not strict: the tokens are checked here, so the messages are ours and the same for every command.
  const { values, positionals, tokens } = parseArgs({ args: [...args], options, strict: false, allowPositionals: true, tokens: true });
  if (values.help === true) return 'help';
  if (values.version === true) return 'version';
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const flag = flags[token.name];
    if (!flag) throw new UsageError(`Unknown option ${token.rawName}`);
    // A value that looks like a flag is the next flag: the value was forgotten.
    if (flag.type === 'string' && (token.value === undefined || (!token.inlineValue && token.value.startsWith('-')))) {
      throw new UsageError(`${token.rawName} needs a value`);
    }
    if (flag.type === 'boolean' && token.inlineValue) throw new UsageError(`${token.rawName} takes no value`);
  }
  const { min, max } = spec.operands ?? { min: 0, max: 0 };
  if (positionals.length > max) throw new UsageError(`Unexpected argument '${positionals[max]}'`);
  if (positionals.length < min) throw new UsageError(`Missing ${spec.operands?.names}`);
  return { values: values as ParsedArgs<F>['values'], operands: positionals };
}

/**
 * Runs a command with its arguments: `--help` prints the usage on stdout and `--version` the
 * version (exit 0); bad arguments print why and the usage on stderr (exit 2).
 */
export async function execute<F extends FlagSpecs>(command: Command<F>, args: readonly string[]): Promise<number> {
  let parsed: ParsedArgs<F> | 'help' | 'version';
  try {
    parsed = parseCommandArgs(command.spec, args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`sequencer ${command.spec.name}: ${error.message}\n${usageOf(command.spec)}`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(usageOf(command.spec));
    return 0;
  }
  if (parsed === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  try {
    return await command.run(parsed);
  } catch (error) {
    // Checks a command makes on the values (a number out of range, JSON that does not parse).
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`sequencer ${command.spec.name}: ${error.message}\n${usageOf(command.spec)}`);
    return 2;
  }
}
