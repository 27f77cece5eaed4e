// Metric families as plain numbers: one cell per label set (a counter's value, a histogram's
// bucket counts, sum and count), found once per label set and then updated with a field write.
// prom-client's own children hash a label object on every inc/observe, which costs the request
// path microseconds; these cost a few nanoseconds. A family is registered on a prom-client
// Registry as a collector and hands it the same values a prom-client Counter or Histogram would
// (names, labels, `le` buckets, _sum/_count), so the registry writes the same scrape text, with
// its default labels (app_id).
import type { Registry } from './prom.js';

export type Labels = Record<string, string>;

/** Rewrites a new cell's labels once, before it is keyed (spec.metric.rules); may change them in place. */
export type LabelRewrite = (metric: string, labels: Labels) => Labels;

/** One value line as prom-client's registry reads it. */
interface ValueLine {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
  sharedLabels?: Labels;
  exemplar?: null;
}

interface Collected {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: ValueLine[];
  aggregator: 'sum';
}

export class CounterCell {
  value = 0;
  constructor(readonly labels: Labels) {}

  inc(): void {
    this.value++;
  }
}

export class HistogramCell {
  /** Observations per bucket (not cumulative); values above the last bound are only in count. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Array<number>(bounds.length).fill(0);
  }

  observe(v: number): void {
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (v <= bounds[i]!) {
        this.counts[i]!++;
        break;
      }
    }
    this.sum += v;
    this.count++;
  }
}

abstract class Family<C extends { labels: Labels }> {
  protected readonly cells = new Map<string, C>();
  protected readonly isLabelled: boolean;

  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly string[],
    private readonly rewrite: LabelRewrite | undefined,
  ) {
    this.isLabelled = labelNames.length > 0;
  }

  protected abstract make(labels: Labels): C;

  /**
   * The cell for `labels`, made on first use. Callers keep what this returns under their own key:
   * the lookup here builds a key from the (rewritten) label values.
   */
  cell(labels: Labels): C {
    const l = this.rewrite ? this.rewrite(this.name, { ...labels }) : labels;
    let key = '';
    for (const k in l) key += `${l[k]}\u0000`;
    let c = this.cells.get(key);
    if (!c) {
      c = this.make(l);
      this.cells.set(key, c);
    }
    return c;
  }

  protected abstract collect(): Collected;

  /** What prom-client's registry calls; `get` is its JSON form. */
  getForPromString(): Collected {
    // As prom-client does, a family without labels shows its one series from the start.
    if (!this.isLabelled && this.cells.size === 0) this.cell({});
    return this.collect();
  }

  get(): Collected {
    const data = this.getForPromString();
    for (const v of data.values) {
      if (v.sharedLabels) {
        v.labels = { ...v.labels, ...v.sharedLabels };
        delete v.sharedLabels;
      }
    }
    return data;
  }

  reset(): void {
    this.cells.clear();
  }

  register(registry: Registry): this {
    // The registry reads name, get/getForPromString and reset; it takes any object with them.
    registry.registerMetric(this as never);
    return this;
  }
}

export class CounterFamily extends Family<CounterCell> {
  protected make(labels: Labels): CounterCell {
    return new CounterCell(labels);
  }

  protected collect(): Collected {
    const values: ValueLine[] = [];
    for (const c of this.cells.values()) values.push({ labels: c.labels, value: c.value });
    return { name: this.name, help: this.help, type: 'counter', values, aggregator: 'sum' };
  }
}

export class HistogramFamily extends Family<HistogramCell> {
  private readonly bounds: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[], rewrite: LabelRewrite | undefined) {
    super(name, help, labelNames, rewrite);
    this.bounds = [...buckets].sort((a, b) => a - b);
  }

  protected make(labels: Labels): HistogramCell {
    return new HistogramCell(labels, this.bounds);
  }

  protected collect(): Collected {
    const values: ValueLine[] = [];
    const bucket = `${this.name}_bucket`;
    for (const c of this.cells.values()) {
      // A cell made but never observed (a zero duration is not observed) has no series yet.
      if (c.count === 0 && this.isLabelled) continue;
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += c.counts[i]!;
        values.push({ labels: { le: this.bounds[i]! }, value: acc, metricName: bucket, sharedLabels: c.labels, exemplar: null });
      }
      values.push({ labels: { le: '+Inf' }, value: c.count, metricName: bucket, sharedLabels: c.labels, exemplar: null });
      values.push({ labels: {}, value: c.sum, metricName: `${this.name}_sum`, sharedLabels: c.labels });
      values.push({ labels: {}, value: c.count, metricName: `${this.name}_count`, sharedLabels: c.labels });
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }
}
