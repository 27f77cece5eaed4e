// The libraries the sidecar loads piece by piece or on demand (start-up time and idle memory):
// undici's Pool and Agent from their own modules, prom-client's metric classes without its
// default metrics, and the embedded default components without a YAML parser. These check the
// pieces are the packages' own (an upgrade that moves a file fails here) and work.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as promClient from 'prom-client';
import * as undici from 'undici';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedDefaults, embeddedDefaultsYaml } from '../../proxy/embedded-defaults.js';
import { newAgent, newPool, undiciPieces } from '../../proxy/undici.js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from '../../telemetry/metrics/prom.js';

describe('undici pieces', () => {
  let server: Server;
  let origin: string;
  beforeAll(async () => {
    server = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`${req.method} ${req.url}`));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('are the classes the package exports', () => {
    expect(undiciPieces().Pool).toBe(undici.Pool);
    expect(undiciPieces().Agent).toBe(undici.Agent);
  });

  it('carry the request API that undici attaches to every dispatcher', async () => {
    const pool = newPool(origin, { connections: 1 });
    const agent = newAgent({ connections: 1 });
    try {
      const a = await pool.request({ method: 'GET', path: '/pool' });
      expect(a.statusCode).toBe(200);
      expect(await a.body.text()).toBe('GET /pool');
      const b = await agent.request({ origin, method: 'POST', path: '/agent', body: 'x' });
      expect(await b.body.text()).toBe('POST /agent');
    } finally {
      await Promise.all([pool.close(), agent.close()]);
    }
  });
});

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

describe('embedded default components', () => {
  it('read from the YAML `bulwark init` writes exactly as the sidecar decodes them without YAML', () => {
    const home = '/tmp/a "quoted" home\\with backslash';
    const yaml = embeddedDefaultsYaml(home);
    const values = embeddedDefaults(home);
    expect(Object.keys(yaml)).toEqual(['statestore.yaml', 'pubsub.yaml', 'lockstore.yaml', 'configstore.yaml']);
    expect(Object.keys(values)).toEqual(Object.keys(yaml));
    for (const file of Object.keys(yaml)) {
      const docs = parseAllDocuments(yaml[file]!, { version: '1.1' });
      expect(Array.isArray(docs) ? docs.map((d) => d.toJS()) : [docs.toJS()]).toEqual([values[file]]);
    }
    expect(values['statestore.yaml']).toMatchObject({ kind: 'Component', spec: { type: 'state.sqlite', metadata: [{ name: 'connectionString', value: `${home}/state.db` }, { name: 'actorStateStore', value: 'true' }] } });
  });
});
