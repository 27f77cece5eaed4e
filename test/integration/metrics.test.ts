// Dapr's sidecar metrics through real processes: a real Prometheus server scrapes the sidecar and
// answers dapr_http_server_request_count for the app id through its query API; the exposition
// has Dapr's names, types, labels and buckets; 10,000 requests with distinct ids in the path
// leave a bounded number of series; the calls to the app are counted by status with their body
// size (a dropped connection as 500); JSON log lines parse and carry Dapr's fields and trace ids.
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { readEntries } from '../../proxy/naming/local-registry.js';
import { CLI, eventually, startProcess, startSidecar as startSidecarOn, stopProcess, tempDir, writeFolder, type SidecarProc } from '../helpers/processes.js';
import { prometheusAvailable, startPrometheus } from '../helpers/prometheus.js';

// Several sidecars run at once: each takes a free gRPC port too.
const startSidecar = (s: Parameters<typeof startSidecarOn>[0]): ReturnType<typeof startSidecarOn> => startSidecarOn({ ...s, args: [...(s.args ?? []), '--dapr-grpc-port', '0'] });

const STATE = (dir: string): string => `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.sqlite
  version: v1
  metadata:
  - name: connectionString
    value: "${join(dir, 'state.db')}"
`;

function metricsPort(sc: SidecarProc, appId: string): number {
  const e = readEntries(sc.home).find((x) => x.appId === appId);
  if (!e?.metricsPort) throw new Error(`no metrics port registered for ${appId}`);
  return e.metricsPort;
}

async function exposition(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

function series(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`));
}

/** `n` requests, `concurrency` at a time; every answer must be below 500. */
async function hammer(n: number, urlOf: (i: number) => string, concurrency = 24): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const r = await request(urlOf(i));
        await r.body.dump();
        if (r.statusCode >= 500) throw new Error(`${urlOf(i)} answered ${r.statusCode}`);
      }
    }),
  );
}

async function startApp(): Promise<number> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

function configFile(spec: string): string {
  return join(writeFolder({ 'config.yaml': `apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: m\nspec:\n${spec}` }), 'config.yaml');
}

describe('metrics exposition', () => {
  it("serves Dapr's HTTP server, runtime and process metrics with Dapr's types, labels and buckets", async () => {
    const sc = await startSidecar({ appId: 'mx-expo', resources: { 'state.yaml': STATE(tempDir()) } });
    const port = metricsPort(sc, 'mx-expo');
    for (let i = 0; i < 3; i++) await (await fetch(`${sc.url}/v1.0/state/statestore/k${i}`)).arrayBuffer();
    await (await fetch(`${sc.url}/v1.0/state/nosuch/k`)).arrayBuffer();
    const text = await exposition(port);
    expect(text).toContain('# TYPE dapr_http_server_request_count counter');
    expect(text).toContain('# TYPE dapr_http_server_latency histogram');
    expect(text).toContain('# TYPE dapr_http_server_response_count counter');
    expect(text).toContain('# TYPE dapr_component_state_count counter');
    expect(text).toContain('dapr_http_server_request_count{method="GET",path="/v1.0/state/statestore",status="204",app_id="mx-expo"} 3');
    expect(series(text, 'dapr_http_server_request_count').some((l) => l.includes('path="/v1.0/state/nosuch"') && /status="4\d\d"/.test(l))).toBe(true);
    // Dapr's 34 latency buckets in milliseconds, +Inf on top.
    const buckets = series(text, 'dapr_http_server_latency_bucket').filter((l) => l.includes('status="204"'));
    expect(buckets).toHaveLength(35);
    expect(buckets[0]).toContain('le="1"');
    expect(buckets[33]).toContain('le="100000"');
    expect(text).toMatch(/dapr_runtime_component_loaded\{app_id="mx-expo"\} 1/);
    expect(text).toContain('dapr_runtime_component_init_total{component="state.sqlite",app_id="mx-expo"} 1');
    expect(text).toMatch(/process_cpu_user_seconds_total\{app_id="mx-expo"\} /);
    expect(text).toMatch(/process_resident_memory_bytes\{app_id="mx-expo"\} /);
    expect(text).toMatch(/nodejs_eventloop_lag_seconds\{app_id="mx-expo"\} /);
  });
});

describe('error codes', () => {
  it('counts Dapr error codes per API group with spec.metric.recordErrorCodes', async () => {
    const sc = await startSidecar({ appId: 'mx-err', args: ['--config', configFile('  metric:\n    recordErrorCodes: true\n')], resources: { 'state.yaml': STATE(tempDir()) } });
    const res = await fetch(`${sc.url}/v1.0/state/nosuch/k`);
    const body = (await res.json()) as { errorCode: string };
    const text = await exposition(metricsPort(sc, 'mx-err'));
    expect(text).toContain(`dapr_error_code_total{error_code="${body.errorCode}",category="state",app_id="mx-err"} 1`);
  });
});

describe("the sidecar's calls to its app", () => {
  it('counts answers by status with their body size, and a connection the app drops as 500', async () => {
    const server = createServer((req, res) => {
      req.resume();
      if (req.url === '/boom') req.socket.destroy();
      else if (req.url === '/ok') req.on('end', () => res.end('ok'));
      else req.on('end', () => res.writeHead(404).end()); // /dapr/config and the like: no body
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    afterAll(() => new Promise<void>((r) => server.close(() => r())));
    const appPort = (server.address() as AddressInfo).port;
    const sc = await startSidecar({ appId: 'mx-client', args: ['--app-port', String(appPort)] });
    for (let i = 0; i < 3; i++) expect((await fetch(`${sc.url}/v1.0/invoke/mx-client/method/ok`)).status).toBe(200);
    expect((await fetch(`${sc.url}/v1.0/invoke/mx-client/method/boom`)).status).toBe(500);
    const text = await exposition(metricsPort(sc, 'mx-client'));
    const client = series(text, 'dapr_http_client_completed_count');
    expect(client.find((l) => l.includes('path="/ok"') && l.includes('status="200"'))).toMatch(/ 3$/);
    expect(client.find((l) => l.includes('path="/boom"') && l.includes('status="500"'))).toMatch(/ [1-9]\d*$/);
    expect(text).toMatch(/^dapr_http_client_received_bytes_sum\{app_id="mx-client"\} 6$/m);
  });
});

describe('app health probes', () => {
  it('counts probes by status in dapr_http_healthprobes_*', async () => {
    const appPort = await startApp();
    const sc = await startSidecar({ appId: 'mx-probe', args: ['--app-port', String(appPort), '--enable-app-health-check', '--app-health-probe-interval', '1'] });
    const port = metricsPort(sc, 'mx-probe');
    const text = await eventually(async () => {
      const t = await exposition(port);
      return /dapr_http_healthprobes_completed_count\{status="200",app_id="mx-probe"\} [1-9]/.test(t) ? t : undefined;
    });
    expect(text).toContain('# TYPE dapr_http_healthprobes_roundtrip_latency histogram');
  });
});

describe.runIf(prometheusAvailable())('scraped by a real Prometheus server', () => {
  it('answers dapr_http_server_request_count for the app id through the query API', async () => {
    const sc = await startSidecar({ appId: 'mx-prom', resources: { 'state.yaml': STATE(tempDir()) } });
    const port = metricsPort(sc, 'mx-prom');
    for (let i = 0; i < 7; i++) await (await fetch(`${sc.url}/v1.0/metadata`)).arrayBuffer();
    const prom = await startPrometheus([`127.0.0.1:${port}`]);
    try {
      const result = await eventually(async () => {
        const r = await prom.query('dapr_http_server_request_count{app_id="mx-prom",path="/v1.0/metadata"}');
        return r.length > 0 ? r : undefined;
      }, 60_000, 500);
      expect(result).toHaveLength(1);
      expect(result[0]!.metric).toMatchObject({ __name__: 'dapr_http_server_request_count', app_id: 'mx-prom', method: 'GET', path: '/v1.0/metadata', status: '200', job: 'bulwark' });
      expect(Number(result[0]!.value[1])).toBe(7);
      // A histogram Prometheus can aggregate: every request is under the +Inf bucket.
      const inf = await prom.query('sum(dapr_http_server_latency_bucket{app_id="mx-prom",path="/v1.0/metadata",le="+Inf"})');
      expect(Number(inf[0]!.value[1])).toBe(7);
    } finally {
      await stopProcess(prom.proc);
    }
  });
});

describe('bounded path cardinality', () => {
  it('groups 10,000 distinct ids under pathMatching patterns and one "" series when increasedCardinality is off', async () => {
    const appPort = await startApp();
    const config = configFile('  metric:\n    http:\n      increasedCardinality: false\n      pathMatching:\n      - /orders/{orderID}\n');
    const sc = await startSidecar({ appId: 'mx-card', args: ['--config', config, '--app-port', String(appPort)] });
    const N = 10_000;
    await hammer(N, (i) => (i % 2 === 0 ? `${sc.url}/v1.0/invoke/mx-card/method/orders/${i}` : `${sc.url}/v1.0/invoke/mx-card/method/items/${i}`));
    const text = await exposition(metricsPort(sc, 'mx-card'));
    const counts = series(text, 'dapr_http_server_request_count');
    expect(counts.length).toBeLessThanOrEqual(3);
    const value = (path: string): number => Number(counts.find((l) => l.includes(`path="${path}"`) && l.includes('status="200"'))?.split(' ').pop());
    expect(value('/v1.0/invoke/{app_id}/method/orders/{orderID}')).toBe(N / 2);
    expect(value('')).toBe(N / 2);
    expect(series(text, 'dapr_http_server_latency_bucket').length).toBeLessThanOrEqual(3 * 35);
    // The sidecar's calls to its app (dapr_http_client_*) use the same grouping on the app's path.
    const client = series(text, 'dapr_http_client_completed_count');
    expect(client.length).toBeLessThanOrEqual(3);
    expect(client.find((l) => l.includes('path="/orders/{orderID}"') && l.includes('status="200"'))).toMatch(/ 5000$/);
    expect(client.find((l) => l.includes('path=""') && l.includes('status="200"'))).toMatch(/ 5000$/);
  }, 600_000);

  it('keeps Dapr legacy grouping of state keys and a hard bound on raw paths with the default settings', async () => {
    const appPort = await startApp();
    const sc = await startSidecar({ appId: 'mx-legacy', args: ['--app-port', String(appPort)], resources: { 'state.yaml': STATE(tempDir()) } });
    await hammer(8_000, (i) => `${sc.url}/v1.0/state/statestore/key-${i}`);
    await hammer(2_000, (i) => `${sc.url}/v1.0/invoke/mx-legacy/method/items/${i}`);
    const text = await exposition(metricsPort(sc, 'mx-legacy'));
    const counts = series(text, 'dapr_http_server_request_count');
    expect(counts.find((l) => l.includes('path="/v1.0/state/statestore"'))).toMatch(/ 8000$/);
    // Invocation paths keep their ids (as in Dapr) but never more than 1000 distinct paths.
    expect(counts.length).toBeLessThanOrEqual(1002);
    expect(counts.length).toBeGreaterThan(100);
    expect(counts.find((l) => l.includes('path=""'))).toBeDefined();
  }, 600_000);
});

describe('structured logs', () => {
  it('writes JSON lines with Dapr fields, API lines at info with the trace id even when --log-level is warn', async () => {
    const config = configFile('  tracing:\n    samplingRate: "1"\n');
    // At --log-level warn the sidecar prints no start-up line; find its port in the registry.
    const home = tempDir('bulwark-home-');
    const proc = startProcess(process.execPath, [CLI, 'sidecar', '--app-id', 'mx-log', '--dapr-http-port', '0', '--metrics-port', '0', '--dapr-grpc-port', '0', '--config', config, '--log-as-json', '--enable-api-logging', '--log-level', 'warn'], { env: { BULWARK_HOME: home } });
    const entry = await eventually(() => readEntries(home).find((e) => e.appId === 'mx-log'));
    const sc = { url: `http://127.0.0.1:${entry.httpPort}`, output: proc.output };
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await fetch(`${sc.url}/v1.0/metadata`, { headers: { traceparent: `00-${trace}-00f067aa0ba902b7-01`, 'user-agent': 'metrics-test' } });
    expect(res.status).toBe(200);
    const spanId = res.headers.get('traceparent')!.split('-')[2];
    const api = await eventually(() => {
      const lines = sc.output().split('\n').filter((l) => l.startsWith('{'));
      return lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r.msg === 'HTTP API Called');
    });
    expect(api).toMatchObject({
      app_id: 'mx-log',
      instance: hostname(),
      level: 'info',
      type: 'log',
      scope: 'dapr.runtime.http-info',
      method: 'GET /v1.0/metadata',
      code: 200,
      useragent: 'metrics-test',
      trace_id: trace,
      span_id: spanId,
    });
    expect(typeof api.ver).toBe('string');
    expect(Number.isInteger(api.duration)).toBe(true);
    expect(new Date(String(api.time)).toISOString()).toBe(api.time);
    // Keys in alphabetical order, as logrus writes them.
    const raw = sc.output().split('\n').find((l) => l.includes('HTTP API Called'))!;
    const keys = Object.keys(JSON.parse(raw) as object);
    expect(keys).toEqual([...keys].sort());
    // Every line the sidecar wrote is JSON; with --log-level warn no info start-up lines appear.
    const lines = sc.output().split('\n').filter((l) => l.trim() !== '');
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    expect(lines.map((l) => JSON.parse(l) as { msg: string; level: string }).filter((r) => r.level === 'info' && r.msg !== 'HTTP API Called')).toHaveLength(0);
  });
});
