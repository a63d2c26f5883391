/**
 * The charts of the machines the server runs, read off the machines themselves: what the docs'
 * generated diagrams and the operator console draw.
 */
import { chartGraph, type ChartGraph } from './chart-graph.ts';
import { registryMachine } from './registry.machine.ts';
import { sequenceMachine } from './sequence.machine.ts';

/** The chart of the sequence machine (one run) and of the registry (the owner of the runs). */
export function machineCharts(): { sequence: ChartGraph; registry: ChartGraph } {
  return { sequence: chartGraph(sequenceMachine), registry: chartGraph(registryMachine) };
}
