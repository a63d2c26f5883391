/**
 * The sequence machine's graph from `GET /statechart` and its layout, fetched and computed once per
 * page load: every run page draws the same chart.
 */
import { signal } from '@preact/signals';
import { ApiError, get } from '../api/http.ts';
import type { ChartGraph } from '../api/types.ts';
import { layoutChart, type ChartLayout } from './chart-layout.ts';

/** The graph and its layout, an error message, or null while loading. */
export const chart = signal<{ graph: ChartGraph; layout: ChartLayout } | { error: string } | null>(null);

let loading: Promise<void> | null = null;

/** Loads the chart once. */
export function loadChart(): Promise<void> {
  loading ??= (async () => {
    try {
      const graph = await get<ChartGraph>('/statechart');
      chart.value = { graph, layout: await layoutChart(graph) };
    } catch (error) {
      loading = null;
      chart.value = {
        error: error instanceof ApiError && error.notAvailable ? 'This server does not publish its statechart (GET /api/v1/statechart).' : (error as Error).message,
      };
    }
  })();
  return loading;
}
