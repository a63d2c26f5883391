/**
 * `npm run docs:charts`: regenerates the Mermaid diagrams of docs/statechart.md from the machines,
 * between their marker comments; the prose around them stays as written. `--check` only says
 * whether the committed diagrams are current (exit 1 when not).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withChartDiagrams } from '../machines/chart-mermaid.ts';
import { machineCharts } from '../machines/charts.ts';

const file = join(import.meta.dirname, '..', 'docs', 'statechart.md');
const { sequence, registry } = machineCharts();
const before = readFileSync(file, 'utf8');
const after = withChartDiagrams(before, [sequence, registry]);
if (process.argv.includes('--check')) {
  console.log(after === before ? 'docs/statechart.md: diagrams are current' : 'docs/statechart.md: diagrams are stale, run npm run docs:charts');
  process.exitCode = after === before ? 0 : 1;
} else if (after !== before) {
  writeFileSync(file, after);
  console.log('docs/statechart.md: diagrams regenerated');
} else {
  console.log('docs/statechart.md: diagrams are current');
}
