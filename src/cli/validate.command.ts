/**
 * `sequencer validate <file.json> [--params JSON]`: checks a definition (or a template, filled with
 * `--params`) with the server's default limits and built-in action types, and prints `valid` with
 * its size and estimated duration, or every problem as `path  code  message`. A template without
 * `--params` is checked as `PUT /sequence-templates` checks it, and its parameters are listed.
 * Exit 0 when valid, 2 otherwise.
 */
import { defaultConfig } from '../config/server-config.ts';
import { createServices } from '../services.ts';
import type { ParamSpec } from '../templates/template.schema.ts';
import type { Command, CommandSpec, ParsedArgs } from './command-line.ts';
import { checkContent, checkTemplate, formatProblems, isTemplate, parseParams, readDefinition } from './definition-file.ts';

/** The `--params` flag of `validate` and `run`. */
export const PARAMS_FLAG = {
  type: 'string',
  value: 'JSON',
  help: `fill a template's parameters, e.g. '{"zone": 3, "esp_id": "ESP_ZONE3"}'`,
} as const;

const FLAGS = { params: PARAMS_FLAG } as const;

const SPEC: CommandSpec<typeof FLAGS> = {
  name: 'validate',
  operands: { names: '<file.json>', min: 1, max: 1 },
  summary: 'Check a definition or a template and print every problem with its path and code.',
  flags: FLAGS,
  notes: 'Exit codes: 0 valid, 2 not valid or not readable.',
};

/** `sequencer validate`. */
export const command: Command<typeof FLAGS> = { spec: SPEC, run: validate };

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

async function validate({ values, operands }: ParsedArgs<typeof FLAGS>): Promise<number> {
  const file = operands[0] as string;
  const params = parseParams(values.params);
  const loaded = await readDefinition(file);
  if (!loaded.ok) {
    process.stderr.write(`sequencer validate: ${loaded.message}\n`);
    return 2;
  }
  // The same engine as `serve` validates, so the answer matches `POST /sequences/validate`.
  const services = await createServices({ ...defaultConfig(), db: ':memory:', driver: 'sim' });
  try {
    if (isTemplate(loaded.value) && params === undefined) {
      const template = await checkTemplate(services, file, loaded.value);
      if (!template.ok) {
        process.stdout.write(formatProblems(template.errors));
        return 2;
      }
      const list = Object.entries(template.params).map(([name, spec]) => `${name} (${describeParam(spec)})`);
      process.stdout.write(`valid template; parameters: ${list.join(', ') || 'none'}; fill them with --params to check the sequence they make\n`);
      return 0;
    }
    const result = await checkContent(services, file, loaded.value, params);
    if (!result.ok) {
      process.stdout.write(formatProblems(result.errors));
      return 2;
    }
    const { steps, cleanup_steps: cleanup } = result.definition;
    const cleanupText = cleanup.length > 0 ? `, ${plural(cleanup.length, 'cleanup step')}` : '';
    process.stdout.write(`valid: ${plural(steps.length, 'step')}${cleanupText}, estimated duration ${result.estimatedSeconds} s\n`);
    return 0;
  } finally {
    await services.close();
  }
}

function describeParam(spec: ParamSpec): string {
  if (spec.required) return `${spec.type}, required`;
  return spec.default === undefined ? spec.type : `${spec.type}, default ${JSON.stringify(spec.default)}`;
}
