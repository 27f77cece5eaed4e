// W3C trace context through real sidecars, exported to test-owned OTLP/HTTP and Zipkin
// receivers: the API span continues the app's trace, invocation keeps one trace id across
// app -> sidecar A -> sidecar B -> app with the right parent links, tracestate and baggage survive,
// sampling 0 sends nothing and passes context through, sampling 1 sends every trace.
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readEntries } from '../../proxy/naming/local-registry.js';
import { eventually, startSidecar, tempDir, writeFolder, type SidecarProc } from '../helpers/processes.js';
import { startOtlpGrpcReceiver, startOtlpReceiver, startZipkinReceiver, tracingConfig, type ReceivedSpan } from '../helpers/trace-receivers.js';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const PARENT = 'b7ad6b7169203331';

interface App {
  port: number;
  seen: Array<{ url: string; headers: IncomingHttpHeaders }>;
}

/** The callee app: records each request's headers and answers 200 (or the status in ?status=). */
async function startApp(): Promise<App> {
  const app: App = { port: 0, seen: [] };
  const server = createServer((req, res) => {
    app.seen.push({ url: req.url ?? '', headers: req.headers });
    const status = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('status') ?? 200);
    req.resume();
    req.on('end', () => res.writeHead(status, { 'content-type': 'text/plain' }).end('paid'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  app.port = (server.address() as AddressInfo).port;
  return app;
}

function configFile(yaml: string): string {
  return join(writeFolder({ 'config.yaml': yaml }), 'config.yaml');
}

async function sidecar(appId: string, config: string, opts: { home?: string; appPort?: number; resources?: Record<string, string> } = {}): Promise<SidecarProc> {
  const args = ['--config', config, '--dapr-grpc-port', '0'];
  if (opts.appPort) args.push('--app-port', String(opts.appPort));
  return startSidecar({ appId, args, ...(opts.home ? { home: opts.home } : {}), ...(opts.resources ? { resources: opts.resources } : {}) });
}

const PUBSUB = (dir: string): string => `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: pubsub
spec:
  type: pubsub.sqlite
  version: v1
  metadata:
  - name: connectionString
    value: "${join(dir, 'pubsub.db')}"
`;

const byId = (spans: ReceivedSpan[], id: string): ReceivedSpan | undefined => spans.find((s) => s.spanId === id);

describe('tracing on the HTTP API', () => {
  it('makes the API span a CLIENT child of the app traceparent, keeps tracestate and returns the span to the caller', async () => {
    const otlp = await startOtlpReceiver();
    const sc = await sidecar('tr-api', configFile(tracingConfig({ samplingRate: '1', otlp })));
    const res = await fetch(`${sc.url}/v1.0/metadata`, {
      headers: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7', baggage: 'userId=alice,isProduction=false' },
    });
    expect(res.status).toBe(200);
    const tp = res.headers.get('traceparent')!;
    expect(tp).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    const spanId = tp.split('-')[2]!;
    expect(spanId).not.toBe(PARENT);
    expect(res.headers.get('tracestate')).toBe('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
    expect(res.headers.get('baggage')).toBe('userId=alice,isProduction=false');
    const span = await eventually(() => byId(otlp.spans, spanId));
    expect(span).toMatchObject({ traceId: TRACE, parentSpanId: PARENT, kind: 'CLIENT', service: 'tr-api', name: '/v1.0/metadata', tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' });
    expect(span.attributes).toMatchObject({ 'dapr.protocol': 'http', 'dapr.api': 'GET /v1.0/metadata', 'dapr.status_code': '200', 'http.request.method': 'GET' });
  });

  it('starts a new root trace when traceparent is absent or invalid, and marks 4xx spans as errors', async () => {
    const otlp = await startOtlpReceiver();
    const sc = await sidecar('tr-root', configFile(tracingConfig({ samplingRate: '1', otlp })));
    const bad = await fetch(`${sc.url}/v1.0/metadata`, { headers: { traceparent: `00-${'0'.repeat(32)}-${PARENT}-01` } });
    const tp = bad.headers.get('traceparent')!;
    expect(tp).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(tp.slice(3, 35)).not.toBe('0'.repeat(32));
    const missing = await fetch(`${sc.url}/v1.0/state/nosuchstore/k`);
    expect(missing.status).toBeGreaterThanOrEqual(400);
    const missingId = missing.headers.get('traceparent')!.split('-')[2]!;
    const root = await eventually(() => byId(otlp.spans, tp.split('-')[2]!));
    expect(root.parentSpanId).toBe('');
    const failed = await eventually(() => byId(otlp.spans, missingId));
    expect(failed.status).toBe('ERROR');
    expect(failed.attributes['db.name']).toBe('nosuchstore');
  });

  it('puts the state call on the API span as db.* attributes, as Dapr does', async () => {
    const otlp = await startOtlpReceiver();
    const dir = tempDir();
    const state = `apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.sqlite\n  version: v1\n  metadata:\n  - name: connectionString\n    value: "${join(dir, 'state.db')}"\n`;
    const sc = await sidecar('tr-state', configFile(tracingConfig({ samplingRate: '1', otlp })), { resources: { 'state.yaml': state } });
    const save = await fetch(`${sc.url}/v1.0/state/statestore`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${TRACE}-${PARENT}-01` },
      body: JSON.stringify([{ key: 'k1', value: { a: 1 } }]),
    });
    expect(save.status).toBe(204);
    const apiSpan = save.headers.get('traceparent')!.split('-')[2]!;
    const api = await eventually(() => byId(otlp.spans, apiSpan));
    expect(api).toMatchObject({ traceId: TRACE, parentSpanId: PARENT, kind: 'CLIENT', name: '/v1.0/state/statestore' });
    expect(api.attributes).toMatchObject({ 'db.system': 'state', 'db.connection_string': 'state', 'db.name': 'statestore', 'db.statement': 'POST /v1.0/state/statestore' });
  });

  it('refuses an invalid baggage header with 400 and a plain-text reason', async () => {
    const sc = await sidecar('tr-bag', configFile(tracingConfig({ samplingRate: '1' })));
    const res = await fetch(`${sc.url}/v1.0/metadata`, { headers: { baggage: 'no-equals-sign' } });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/^invalid baggage header: /);
  });
});

describe('tracing across service invocation', () => {
  it('keeps one trace from app -> sidecar A -> sidecar B -> app with CLIENT and SERVER spans linked, to OTLP and Zipkin', async () => {
    const otlp = await startOtlpReceiver();
    const zipkin = await startZipkinReceiver();
    const app = await startApp();
    const home = tempDir('bulwark-home-');
    const config = configFile(tracingConfig({ samplingRate: '1', otlp, zipkin }));
    await sidecar('tr-callee', config, { home, appPort: app.port });
    const a = await sidecar('tr-caller', config, { home });
    const res = await eventually(async () => {
      const r = await fetch(`${a.url}/v1.0/invoke/tr-callee/method/pay`, {
        method: 'POST',
        body: 'x',
        headers: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'congo=t61rcWkgMzE', baggage: 'order=42' },
      });
      return r.status === 200 ? r : undefined;
    });
    expect(await res.text()).toBe('paid');
    // The caller app gets sidecar A's API span back.
    const s1 = res.headers.get('traceparent')!.split('-')[2]!;
    expect(res.headers.get('traceparent')).toBe(`00-${TRACE}-${s1}-01`);
    // App B sees sidecar B's server span as its parent, with tracestate and baggage intact.
    const seen = app.seen.find((s) => s.url === '/pay')!;
    const tp = String(seen.headers.traceparent);
    expect(tp).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    const s2 = tp.split('-')[2]!;
    expect(seen.headers.tracestate).toBe('congo=t61rcWkgMzE');
    expect(seen.headers.baggage).toBe('order=42');

    for (const receiver of [otlp, zipkin]) {
      const client = await eventually(() => byId(receiver.spans, s1));
      const server = await eventually(() => byId(receiver.spans, s2));
      expect(client).toMatchObject({ traceId: TRACE, parentSpanId: PARENT, kind: 'CLIENT', name: 'CallLocal/tr-callee/pay', service: 'tr-caller' });
      expect(client.attributes).toMatchObject({ 'rpc.service': 'ServiceInvocation', 'net.peer.name': 'tr-callee' });
      expect(server).toMatchObject({ traceId: TRACE, parentSpanId: s1, kind: 'SERVER', name: 'CallLocal/tr-callee/pay', service: 'tr-callee' });
      expect(server.attributes).toMatchObject({ 'rpc.service': 'ServiceInvocation', 'dapr.invoke_method': 'pay' });
    }
    expect(otlp.spans.find((s) => s.spanId === s2)!.tracestate).toBe('congo=t61rcWkgMzE');
    // OTLP/HTTP as daprd sends it: protobuf bodies.
    expect(new Set(otlp.encodings)).toEqual(new Set(['application/x-protobuf']));
    // The callee counts the request and its answer under the caller's app id.
    const calleePort = readEntries(home).find((e) => e.appId === 'tr-callee')!.metricsPort;
    const text = await (await fetch(`http://127.0.0.1:${calleePort}/metrics`)).text();
    expect(text).toMatch(/dapr_runtime_service_invocation_req_recv_total\{src_app_id="tr-caller",app_id="tr-callee"\} [1-9]/);
    expect(text).toContain('dapr_runtime_service_invocation_res_sent_total{dst_app_id="tr-caller",status="200",app_id="tr-callee"} 1');
    const callerPort = readEntries(home).find((e) => e.appId === 'tr-caller')!.metricsPort;
    const callerText = await (await fetch(`http://127.0.0.1:${callerPort}/metrics`)).text();
    expect(callerText).toMatch(/dapr_runtime_service_invocation_req_sent_total\{dst_app_id="tr-callee",type="unary",app_id="tr-caller"\} [1-9]/);
    expect(callerText).toContain('dapr_runtime_service_invocation_res_recv_total{src_app_id="tr-callee",status="200",type="unary",app_id="tr-caller"} 1');
    expect(callerText).toContain('dapr_runtime_service_invocation_res_recv_latency_ms_count{app_id="tr-caller",src_app_id="tr-callee",status="200"} 1');
  });

  it('exports the same linked trace over OTLP/gRPC (otel.protocol: grpc)', async () => {
    const otlp = await startOtlpGrpcReceiver();
    const app = await startApp();
    const home = tempDir('bulwark-home-');
    const config = configFile(tracingConfig({ samplingRate: '1', otlp }));
    await sidecar('trg-callee', config, { home, appPort: app.port });
    const a = await sidecar('trg-caller', config, { home });
    const res = await eventually(async () => {
      const r = await fetch(`${a.url}/v1.0/invoke/trg-callee/method/pay`, { method: 'POST', body: 'x', headers: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'congo=t61rcWkgMzE' } });
      return r.status === 200 ? r : undefined;
    });
    expect(await res.text()).toBe('paid');
    const s1 = res.headers.get('traceparent')!.split('-')[2]!;
    const s2 = String(app.seen.find((s) => s.url === '/pay')!.headers.traceparent).split('-')[2]!;
    const client = await eventually(() => byId(otlp.spans, s1));
    const server = await eventually(() => byId(otlp.spans, s2));
    expect(client).toMatchObject({ traceId: TRACE, parentSpanId: PARENT, kind: 'CLIENT', name: 'CallLocal/trg-callee/pay', service: 'trg-caller' });
    expect(server).toMatchObject({ traceId: TRACE, parentSpanId: s1, kind: 'SERVER', name: 'CallLocal/trg-callee/pay', service: 'trg-callee', tracestate: 'congo=t61rcWkgMzE' });
    expect(server.attributes).toMatchObject({ 'rpc.service': 'ServiceInvocation', 'dapr.invoke_method': 'pay' });
    expect(new Set(otlp.encodings)).toEqual(new Set(['grpc']));
  });

  it('continues the client trace on the public fronting port with a SERVER span the app sees as parent', async () => {
    const otlp = await startOtlpReceiver();
    const app = await startApp();
    const sc = await startSidecar({ appId: 'tr-front', args: ['--config', configFile(tracingConfig({ samplingRate: '1', otlp })), '--app-port', String(app.port), '--public-port', '0', '--dapr-grpc-port', '0'] });
    const port = Number((await sc.waitFor(/public fronting on [^:\s]+:(\d+)/))[1]);
    const res = await eventually(async () => {
      const r = await fetch(`http://127.0.0.1:${port}/front/1`, { headers: { traceparent: `00-${TRACE}-${PARENT}-01`, baggage: 'k=v' } });
      return r.status === 200 ? r : undefined;
    });
    expect(await res.text()).toBe('paid');
    const seen = app.seen.find((s) => s.url === '/front/1')!;
    const tp = String(seen.headers.traceparent);
    expect(tp).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    expect(seen.headers.baggage).toBe('k=v');
    const span = await eventually(() => byId(otlp.spans, tp.split('-')[2]!));
    expect(span).toMatchObject({ traceId: TRACE, parentSpanId: PARENT, kind: 'SERVER', name: 'CallLocal/tr-front/front/1', service: 'tr-front' });
  });

  it('traces forward-proxy calls (HTTP_PROXY pointed at the sidecar) like invocations', async () => {
    const otlp = await startOtlpReceiver();
    const app = await startApp();
    const home = tempDir('bulwark-home-');
    const config = configFile(tracingConfig({ samplingRate: '1', otlp }));
    await sidecar('tr-fp-callee', config, { home, appPort: app.port });
    const a = await sidecar('tr-fp-caller', config, { home });
    const viaProxy = (): Promise<{ status: number; traceparent: string }> =>
      new Promise((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: a.httpPort, method: 'GET', path: 'http://tr-fp-callee/proxied', headers: { traceparent: `00-${TRACE}-${PARENT}-01` } }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, traceparent: String(res.headers.traceparent) }));
        });
        req.on('error', reject);
        req.end();
      });
    const res = await eventually(async () => {
      const r = await viaProxy();
      return r.status === 200 ? r : undefined;
    });
    const s1 = res.traceparent.split('-')[2]!;
    const seen = app.seen.find((s) => s.url === '/proxied')!;
    const s2 = String(seen.headers.traceparent).split('-')[2]!;
    const client = await eventually(() => byId(otlp.spans, s1));
    const server = await eventually(() => byId(otlp.spans, s2));
    expect(client).toMatchObject({ traceId: TRACE, parentSpanId: PARENT, kind: 'CLIENT', name: 'CallLocal/tr-fp-callee/proxied', service: 'tr-fp-caller' });
    expect(server).toMatchObject({ traceId: TRACE, parentSpanId: s1, kind: 'SERVER', name: 'CallLocal/tr-fp-callee/proxied', service: 'tr-fp-callee' });
  });

  it('sampling 0 exports nothing and passes the app context through unchanged; sampling 1 exports every trace', async () => {
    const off = await startOtlpReceiver();
    const on = await startOtlpReceiver();
    const app = await startApp();
    const homeOff = tempDir('bulwark-home-');
    const homeOn = tempDir('bulwark-home-');
    await sidecar('tr-s-callee', configFile(tracingConfig({ samplingRate: '0', otlp: off })), { home: homeOff, appPort: app.port });
    const aOff = await sidecar('tr-s-caller', configFile(tracingConfig({ samplingRate: '0', otlp: off })), { home: homeOff });
    const aOn = await sidecar('tr-s1', configFile(tracingConfig({ samplingRate: '1', otlp: on })), { home: homeOn });

    const incoming = `00-${TRACE}-${PARENT}-01`;
    const passed = await eventually(async () => {
      const r = await fetch(`${aOff.url}/v1.0/invoke/tr-s-callee/method/off`, { headers: { traceparent: incoming } });
      return r.status === 200 ? r : undefined;
    });
    expect(passed.headers.get('traceparent')).toBeNull();
    expect(app.seen.find((s) => s.url === '/off')!.headers.traceparent).toBe(incoming);

    const N = 20;
    for (let i = 0; i < N; i++) {
      await (await fetch(`${aOff.url}/v1.0/metadata`)).arrayBuffer();
      const r = await fetch(`${aOn.url}/v1.0/metadata`);
      expect(r.headers.get('traceparent')).toMatch(/-01$/);
      await r.arrayBuffer();
    }
    await eventually(() => new Set(on.spans.map((s) => s.traceId)).size === N);
    // Sampled spans of the same moment have been exported; give the other sidecar two more
    // batch intervals before checking it sent nothing at all.
    await new Promise((r) => setTimeout(r, 2500));
    expect(on.spans).toHaveLength(N);
    expect(off.requests).toBe(0);
    expect(off.spans).toHaveLength(0);
  });

  it('honours the incoming sampled flag whatever the rate (parent-based sampling)', async () => {
    const otlp = await startOtlpReceiver();
    const sc = await sidecar('tr-parent', configFile(tracingConfig({ samplingRate: '0.0000001', otlp })));
    const sampled = await fetch(`${sc.url}/v1.0/metadata`, { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } });
    const unsampledTrace = '1'.repeat(32);
    const unsampled = await fetch(`${sc.url}/v1.0/metadata`, { headers: { traceparent: `00-${unsampledTrace}-${PARENT}-00` } });
    // Unsampled spans still get fresh ids and travel with flags 00.
    expect(unsampled.headers.get('traceparent')).toMatch(new RegExp(`^00-${unsampledTrace}-[0-9a-f]{16}-00$`));
    expect(unsampled.headers.get('traceparent')!.split('-')[2]).not.toBe(PARENT);
    await eventually(() => byId(otlp.spans, sampled.headers.get('traceparent')!.split('-')[2]!));
    await new Promise((r) => setTimeout(r, 2500));
    expect(otlp.spans.filter((s) => s.traceId === unsampledTrace)).toHaveLength(0);
    expect(otlp.spans.filter((s) => s.traceId === TRACE)).toHaveLength(1);
  });
});

describe('tracing across publish and delivery', () => {
  it('carries the publish span in the CloudEvent and continues it in a pubsub/<topic> span the subscriber sees as parent', async () => {
    const otlp = await startOtlpReceiver();
    const got: Array<{ headers: IncomingHttpHeaders; event: Record<string, unknown> }> = [];
    const server = createServer((req, res) => {
      if (req.url === '/dapr/subscribe') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([{ pubsubname: 'pubsub', topic: 'orders', route: '/orders' }]));
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/orders') got.push({ headers: req.headers, event: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"SUCCESS"}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    afterAll(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as AddressInfo).port;
    const sc = await sidecar('tr-pub', configFile(tracingConfig({ samplingRate: '1', otlp })), { appPort: port, resources: { 'pubsub.yaml': PUBSUB(tempDir()) } });
    const res = await eventually(async () => {
      const r = await fetch(`${sc.url}/v1.0/publish/pubsub/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'congo=t61rcWkgMzE' },
        body: JSON.stringify({ id: 1 }),
      });
      return r.status === 204 ? r : undefined;
    });
    const publishSpan = res.headers.get('traceparent')!.split('-')[2]!;
    const delivered = await eventually(() => got[0]);
    // The CloudEvent keeps the publisher's span: traceparent and traceid equal.
    expect(delivered.event.traceparent).toBe(`00-${TRACE}-${publishSpan}-01`);
    expect(delivered.event.traceid).toBe(delivered.event.traceparent);
    expect(delivered.event.tracestate).toBe('congo=t61rcWkgMzE');
    const appParent = String(delivered.headers.traceparent);
    expect(appParent).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    const deliverSpan = appParent.split('-')[2]!;
    expect(deliverSpan).not.toBe(publishSpan);

    const pub = await eventually(() => byId(otlp.spans, publishSpan));
    const del = await eventually(() => byId(otlp.spans, deliverSpan));
    expect(pub).toMatchObject({ traceId: TRACE, parentSpanId: PARENT, kind: 'CLIENT', name: '/v1.0/publish/pubsub/orders' });
    expect(pub.attributes).toMatchObject({ 'messaging.system': 'pubsub', 'messaging.destination.name': 'orders' });
    expect(del).toMatchObject({ traceId: TRACE, parentSpanId: publishSpan, kind: 'CLIENT', name: 'pubsub/orders', service: 'tr-pub' });
    expect(del.attributes).toMatchObject({ 'messaging.system': 'pubsub', 'messaging.destination.name': 'orders' });
    // The broker call itself is a CLIENT child of the publish span.
    const broker = await eventually(() => otlp.spans.find((s) => s.parentSpanId === publishSpan && s.name === 'pubsub/pubsub/publish'));
    expect(broker).toMatchObject({ traceId: TRACE, kind: 'CLIENT' });
    expect(broker.attributes).toMatchObject({ 'db.system': 'pubsub', 'db.name': 'pubsub', 'db.operation': 'publish' });
  });
});
