// The one place prom-client is loaded. Its index module also loads the default (process_*,
// nodejs_*) metrics and, through them, @opentelemetry/api: about 35 ms of start-up and several
// MB of heap that a sidecar nobody scrapes never needs. The metric classes are taken from their
// own modules instead (prom-client has no exports map; test/unit/lazy-libraries.test.ts checks
// they are the classes the package exports), and the default metrics are loaded on demand.
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

const require = createRequire(import.meta.url);

export const Registry = require('prom-client/lib/registry.js') as typeof PromClient.Registry;
export const Counter = require('prom-client/lib/counter.js') as typeof PromClient.Counter;
export const Gauge = require('prom-client/lib/gauge.js') as typeof PromClient.Gauge;
export const Histogram = require('prom-client/lib/histogram.js') as typeof PromClient.Histogram;
export type Registry = PromClient.Registry;
export type Counter<T extends string = string> = PromClient.Counter<T>;
export type Gauge<T extends string = string> = PromClient.Gauge<T>;
export type Histogram<T extends string = string> = PromClient.Histogram<T>;

/** prom-client's process_* and nodejs_* metrics on `registry`, loaded now. */
export function collectDefaultMetrics(registry: PromClient.Registry): void {
  (require('prom-client/lib/defaultMetrics.js') as typeof PromClient.collectDefaultMetrics)({ register: registry });
}
