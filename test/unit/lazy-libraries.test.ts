// The libraries the sidecar loads piece by piece or on demand (start-up time and idle memory):
// undici's Pool and Agent from their own modules, prom-client's metric classes without its
// default metrics, and the embedded default components without a YAML parser. These check the
// pieces are the packages' own (an upgrade that moves a file fails here) and work.
import * as promClient from 'prom-client';
import { describe, expect, it } from 'vitest';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from '../../telemetry/metrics/prom.js';

describe('prom-client pieces', () => {
  it('are the classes the package exports', () => {
    expect(Registry).toBe(promClient.Registry);
    expect(Counter).toBe(promClient.Counter);
    expect(Gauge).toBe(promClient.Gauge);
    expect(Histogram).toBe(promClient.Histogram);
  });

  it('register the process and Node.js metrics on demand', async () => {
    const registry = new Registry();
    new Counter({ name: 'x_total', help: 'x', registers: [registry] }).inc();
    expect(await registry.metrics()).not.toContain('process_cpu_user_seconds_total');
    collectDefaultMetrics(registry);
    const text = await registry.metrics();
    expect(text).toContain('x_total 1');
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
  });
});
