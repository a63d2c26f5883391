/**
 * A Prometheus histogram without labels for values observed on every event (the event lags): one
 * comparison per bucket and three additions per value. prom-client's own Histogram builds a
 * closure, a label object and a label hash on each observation, which at ~16 observations per run
 * was about 1.5 % of the server's main thread in a batch of starts. It renders in prom-client's
 * registry exactly as a prom-client histogram of the same buckets does.
 */
import type { Histogram, Registry } from 'prom-client';

/** What the code that observes a lag sees. */
export interface LagObserver {
  observe(seconds: number): void;
}

/** One rendered sample, as prom-client's registry reads it from `get()`. */
interface Sample {
  metricName: string;
  labels: { le?: number | '+Inf' };
  value: number;
}

/** An unlabelled histogram registered in `registry` under `name`. */
export class LagHistogram implements LagObserver {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly #bounds: readonly number[];
  /** Observations per bucket (not cumulative); the last slot counts those above every bound. */
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(options: { name: string; help: string; buckets: readonly number[]; registry: Registry }) {
    this.name = options.name;
    this.help = options.help;
    this.#bounds = [...options.buckets].sort((a, b) => a - b);
    this.#counts = new Float64Array(this.#bounds.length + 1);
    // The registry renders any object with a name, help, type and `get()`; its type lists its own classes.
    options.registry.registerMetric(this as unknown as Histogram);
  }

  observe(seconds: number): void {
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && seconds > (bounds[i] as number)) i++;
    this.#counts[i] = (this.#counts[i] as number) + 1;
    this.#sum += seconds;
    this.#count += 1;
  }

  /** The samples of a scrape: cumulative buckets, `+Inf`, sum and count. */
  get(): { name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Sample[] } {
    const bucket = `${this.name}_bucket`;
    let cumulative = 0;
    const values: Sample[] = this.#bounds.map((le, i) => {
      cumulative += this.#counts[i] as number;
      return { metricName: bucket, labels: { le }, value: cumulative };
    });
    values.push(
      { metricName: bucket, labels: { le: '+Inf' }, value: this.#count },
      { metricName: `${this.name}_sum`, labels: {}, value: this.#sum },
      { metricName: `${this.name}_count`, labels: {}, value: this.#count },
    );
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.#counts.fill(0);
    this.#sum = 0;
    this.#count = 0;
  }
}
