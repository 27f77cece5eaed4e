// Latency distribution plot: vega-lite spec compiled by vega-lite, rendered to SVG by vega.
import { compile, type TopLevelSpec } from 'vega-lite';
import { parse, View } from 'vega';
import { quantile } from './latency.js';

export interface PlotSeries {
  scenario: string;
  target: string;
  /** Sorted latencies in ms. */
  sorted: Float64Array;
}

const QS = [0, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 1];

/** Percentile curves (x: percentile on a "nines" axis, y: latency, log scale), one panel per scenario. */
export async function latencySvg(series: PlotSeries[], title: string): Promise<string> {
  const values: { scenario: string; target: string; nines: number; percentile: string; ms: number }[] = [];
  for (const s of series) {
    if (s.sorted.length === 0) continue;
    for (const q of QS) {
      const nines = q >= 1 ? 4.3 : -Math.log10(1 - q);
      values.push({ scenario: s.scenario, target: s.target, nines, percentile: q >= 1 ? 'max' : `p${+(q * 100).toFixed(2)}`, ms: Math.max(0.01, quantile(s.sorted, q)) });
    }
  }
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values },
    facet: { column: { field: 'scenario', type: 'nominal', title: null } },
    spec: {
      width: 260,
      height: 220,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'nines', type: 'quantitative', title: 'percentile (0, 50, 90, 99, 99.9, 99.99, max)', axis: { values: [0, 0.301, 1, 2, 3, 4, 4.3], labelExpr: "datum.value < 0.1 ? 'p0' : datum.value < 0.5 ? 'p50' : datum.value < 1.5 ? 'p90' : datum.value < 2.5 ? 'p99' : datum.value < 3.5 ? 'p99.9' : datum.value < 4.1 ? 'p99.99' : 'max'" } },
        y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'latency (ms, corrected)' },
        color: { field: 'target', type: 'nominal' },
        tooltip: [{ field: 'target' }, { field: 'percentile' }, { field: 'ms' }],
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
  const vg = compile(spec).spec;
  const view = new View(parse(vg), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
