// Pure telemetry logic: W3C trace-context parsing as Dapr reads it, tracestate and baggage
// checks, the HTTP metric path label, Configuration decoding and log records.
import { describe, expect, it } from 'vitest';
import { legacyNormalise, MAX_RAW_PATHS, PathLabeler } from '../../telemetry/metrics/path-label.js';
import { LATENCY_BUCKETS_MS, metricsSettings, SIZE_BUCKETS } from '../../telemetry/metrics/settings.js';
import { baggageProblem, formatTraceparent, parseTraceparent, tracestateToSend, validTracestate } from '../../telemetry/tracing/context.js';
import { DEFAULT_SAMPLING_RATE, tracingSettings } from '../../telemetry/tracing/settings.js';
import { createLogger } from '../../telemetry/logging.js';

const T = '0af7651916cd43dd8448eb211c80319c';
const S = 'b7ad6b7169203331';

describe('traceparent', () => {
  it('reads a valid header and lower-cases upper-case hex, as Dapr does', () => {
    expect(parseTraceparent(`00-${T}-${S}-01`)).toEqual({ traceId: T, spanId: S, flags: 1 });
    expect(parseTraceparent(`00-${T.toUpperCase()}-${S.toUpperCase()}-00`)).toEqual({ traceId: T, spanId: S, flags: 0 });
  });

  it('reads the canonical form and its near misses exactly as the general parser does', () => {
    expect(parseTraceparent(`00-${T}-${S}-ff`)).toEqual({ traceId: T, spanId: S, flags: 255 });
    expect(parseTraceparent(`00-${T}-${S}-a1`)).toEqual({ traceId: T, spanId: S, flags: 0xa1 });
    // Upper-case flags and a leading space (55 characters) fall back to the lenient path.
    expect(parseTraceparent(`00-${T}-${S}-0A`)).toEqual({ traceId: T, spanId: S, flags: 10 });
    expect(parseTraceparent(` 0-${T}-${S}-01`)).toBeUndefined();
    expect(parseTraceparent(`00_${T}-${S}-01`)).toBeUndefined();
    expect(parseTraceparent(`00-${T}_${S}-01`)).toBeUndefined();
    expect(parseTraceparent(`00-${T}-${S}_01`)).toBeUndefined();
    expect(parseTraceparent(`00-${T}-${S}-0g`)).toBeUndefined();
  });

  it('accepts extra fields only after version 00', () => {
    expect(parseTraceparent(`01-${T}-${S}-01-extra`)).toEqual({ traceId: T, spanId: S, flags: 1 });
    expect(parseTraceparent(`00-${T}-${S}-01-extra`)).toBeUndefined();
  });

  it('rejects version ff, wrong lengths, non-hex and all-zero ids', () => {
    for (const bad of [
      `ff-${T}-${S}-01`,
      `00-${T.slice(1)}-${S}-01`,
      `00-${T}-${S.slice(1)}-01`,
      `00-${T}-${S}-0`,
      `00-${'g'.repeat(32)}-${S}-01`,
      `00-${'0'.repeat(32)}-${S}-01`,
      `00-${T}-${'0'.repeat(16)}-01`,
      `00-${T}-${S}`,
      '',
    ]) {
      expect(parseTraceparent(bad), bad).toBeUndefined();
    }
  });

  it('always writes version 00 with lower-case hex and two flag digits', () => {
    expect(formatTraceparent(T, S, 1)).toBe(`00-${T}-${S}-01`);
    expect(formatTraceparent(T, S, 0)).toBe(`00-${T}-${S}-00`);
  });
});

describe('tracestate', () => {
  it('keeps a valid W3C list, multi-tenant keys included', () => {
    expect(validTracestate('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7')).toBe('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
    expect(validTracestate('tenant@vendor=v')).toBe('tenant@vendor=v');
  });

  it('drops the whole header when one member is invalid or a key repeats', () => {
    expect(validTracestate('Upper=1')).toBeUndefined();
    expect(validTracestate('a=1,a=2')).toBeUndefined();
    expect(validTracestate('a=1,novalue')).toBeUndefined();
    expect(validTracestate(Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(','))).toBeUndefined();
  });

  it('is not sent onward when longer than 512 characters', () => {
    const long = `a=${'x'.repeat(255)},b=${'y'.repeat(255)}`;
    expect(validTracestate(long)).toBe(long);
    expect(tracestateToSend(long)).toBeUndefined();
    expect(tracestateToSend('a=1')).toBe('a=1');
  });
});

describe('baggage', () => {
  it('accepts members with properties and percent-encoded values', () => {
    expect(baggageProblem('userId=alice,serverNode=DF%2028,isProduction=false')).toBeUndefined();
    expect(baggageProblem('key1=value1;property1;property2=x')).toBeUndefined();
  });

  it('names what is wrong with an invalid header', () => {
    expect(baggageProblem('no-equals')).toMatch(/invalid member/);
    expect(baggageProblem('bad key=v')).toMatch(/invalid key/);
    expect(baggageProblem('k=a b')).toMatch(/invalid value/);
    expect(baggageProblem('k=%zz')).toMatch(/percent-encoding/);
  });
});

describe('HTTP metric path label', () => {
  it('matches pathMatching patterns with Go ServeMux rules and adds the invoke twin', () => {
    const l = new PathLabeler({ increasedCardinality: false, pathMatching: ['/orders/{orderID}', '/orders/special', '/files/{rest...}', '/static/'] });
    expect(l.label('/orders/123')).toBe('/orders/{orderID}');
    expect(l.label('/orders/special')).toBe('/orders/special');
    expect(l.label('//orders//9')).toBe('/orders/{orderID}');
    expect(l.label('/v1.0/invoke/shop/method/orders/7')).toBe('/v1.0/invoke/{app_id}/method/orders/{orderID}');
    expect(l.label('/files/a/b/c')).toBe('/files/{rest...}');
    expect(l.label('/static/css/site.css')).toBe('/static/');
    expect(l.label('/orders/1/items')).toBe('');
    expect(l.label('/dapr/subscribe')).toBe('/dapr/subscribe');
  });

  it("applies Dapr's legacy grouping when increasedCardinality is on", () => {
    expect(legacyNormalise('/v1.0/state/store/key-1')).toBe('/v1.0/state/store');
    expect(legacyNormalise('/v1.0/secrets/vault/db-password')).toBe('/v1.0/secrets/vault');
    expect(legacyNormalise('/v1.0/actors/Cart/42/method/add')).toBe('/v1.0/actors/Cart/{id}/method');
    expect(legacyNormalise('/v1.0-beta1/workflows/dapr/abc-123/raiseEvent/approved')).toBe('/v1.0-beta1/workflows/dapr/{instanceId}/raiseEvent/{eventName}');
    expect(legacyNormalise('/v1.0/invoke/b/method/orders/123')).toBe('/v1.0/invoke/b/method/orders/123');
  });

  it('stops adding raw paths after the bound', () => {
    const l = new PathLabeler({ increasedCardinality: true, pathMatching: [] });
    for (let i = 0; i < MAX_RAW_PATHS; i++) expect(l.label(`/x/${i}`)).toBe(`/x/${i}`);
    expect(l.label('/x/new')).toBe('');
    expect(l.label('/x/5')).toBe('/x/5');
  });
});

describe('Configuration decoding', () => {
  it("uses Dapr's sampling defaults: empty or unparsable is 1e-4, \"0\" is off", () => {
    expect(tracingSettings({}, {}).samplingRate).toBe(DEFAULT_SAMPLING_RATE);
    expect(tracingSettings({ samplingRate: 'abc' }, {}).samplingRate).toBe(DEFAULT_SAMPLING_RATE);
    expect(tracingSettings({ samplingRate: '0' }, {}).samplingRate).toBe(0);
    expect(tracingSettings({ samplingRate: '1' }, {}).samplingRate).toBe(1);
  });

  it('builds the OTLP URL from host:port and isSecure, and refuses an unknown protocol', () => {
    expect(tracingSettings({ otel: { endpointAddress: 'localhost:4318', protocol: 'http', isSecure: false } }, {}).otlp?.url).toBe('http://localhost:4318/v1/traces');
    expect(tracingSettings({ otel: { endpointAddress: 'collector:4318', protocol: 'http' } }, {}).otlp?.url).toBe('https://collector:4318/v1/traces');
    expect(() => tracingSettings({ otel: { endpointAddress: 'c:1', protocol: 'udp' } }, {})).toThrow(/http or grpc/);
  });

  it('sends protobuf over HTTP as daprd does, names no path over gRPC, and honours http/json from the environment', () => {
    expect(tracingSettings({ otel: { endpointAddress: 'localhost:4318', protocol: 'http', isSecure: false } }, {}).otlp).toMatchObject({ protocol: 'http', encoding: 'protobuf' });
    expect(tracingSettings({ otel: { endpointAddress: 'localhost:4317', protocol: 'grpc', isSecure: false } }, {}).otlp).toMatchObject({ url: 'http://localhost:4317', protocol: 'grpc' });
    expect(tracingSettings({ otel: { endpointAddress: 'collector:4317', protocol: 'grpc' } }, {}).otlp?.url).toBe('https://collector:4317');
    expect(tracingSettings({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'c:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).otlp).toMatchObject({ protocol: 'http', encoding: 'json' });
    expect(tracingSettings({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'c:4317' }).otlp).toMatchObject({ url: 'https://c:4317', protocol: 'grpc' });
  });

  it('falls back to OTEL_EXPORTER_OTLP_* without a configured endpoint; the scheme does not select TLS', () => {
    const s = tracingSettings({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_HEADERS: 'a=1,b=2' });
    expect(s.otlp).toMatchObject({ url: 'https://collector:4318/v1/traces', protocol: 'http', headers: { a: '1', b: '2' } });
    expect(s.samplingRate).toBe(1);
    expect(tracingSettings({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http', OTEL_EXPORTER_OTLP_INSECURE: 'true' }).otlp?.url).toBe('http://collector:4318/v1/traces');
  });

  it("decodes spec.metric with Dapr's defaults and buckets", () => {
    const d = metricsSettings({});
    expect(d).toMatchObject({ enabled: true, increasedCardinality: true, excludeVerbs: false, pathMatching: [] });
    expect(d.latencyBuckets).toEqual(LATENCY_BUCKETS_MS);
    expect(LATENCY_BUCKETS_MS).toHaveLength(34);
    expect(SIZE_BUCKETS[0]).toBe(1024);
    expect(SIZE_BUCKETS[SIZE_BUCKETS.length - 1]).toBe(4 * 1024 ** 3);
    expect(metricsSettings({ enabled: false, latencyDistributionBuckets: [50, 5] }).latencyBuckets).toEqual([5, 50]);
  });
});

describe('log records', () => {
  it('writes warn as "warning" with keys in alphabetical order (JSON) and time, level, msg first (text)', () => {
    const lines: string[] = [];
    const json = createLogger({ level: 'info', json: true, appId: 'a', version: '1', write: (l) => lines.push(l) });
    json.warn('careful', { zeta: 1 });
    json.debug('hidden');
    expect(lines).toHaveLength(1);
    const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(rec).toMatchObject({ level: 'warning', msg: 'careful', app_id: 'a', ver: '1', type: 'log', scope: 'dapr.runtime', zeta: 1 });
    expect(Object.keys(rec)).toEqual(Object.keys(rec).sort());
    const text: string[] = [];
    createLogger({ level: 'info', json: false, appId: 'a', version: '1', write: (l) => text.push(l) }).info('hello world');
    expect(text[0]).toMatch(/^time=\S+ level=info msg="hello world" app_id=a instance=\S+ scope=dapr\.runtime type=log ver=1$/);
  });
});

describe('Dapr metric families on a prom-client registry', () => {
  it('applies spec.metric.rules regex replacements to label values', async () => {
    const { Registry } = await import('prom-client');
    const { DaprMetrics } = await import('../../telemetry/metrics/dapr-metrics.js');
    const registry = new Registry();
    const settings = metricsSettings({
      http: { increasedCardinality: true },
      rules: [{ name: 'dapr_http_server_request_count', labels: [{ name: 'path', regex: { '/orders/$1/items': '/orders/([a-z]+)/items/[0-9]+' } }] }],
    });
    const m = new DaprMetrics(registry, settings, undefined);
    m.recordHttpServer('GET', '/orders/abc/items/1', 200, 1.7, 0, 2);
    m.recordHttpServer('GET', '/orders/abc/items/2', 200, 0.2, 0, 2);
    m.recordHttpServer('BREW', '/x', 418, 0.2, 0, 2);
    const text = await registry.metrics();
    expect(text).toContain('dapr_http_server_request_count{method="GET",path="/orders/abc/items",status="200"} 2');
    expect(text).toContain('dapr_http_server_request_count{method="UNKNOWN",path="/x",status="418"} 1');
    // Latency is recorded in whole milliseconds (1.7 ms counts as 1); the rule above is for one metric only.
    expect(text).toContain('dapr_http_server_latency_bucket{le="1",method="GET",path="/orders/abc/items/1",status="200"} 1');
  });

  it('counts pub/sub egress and ingress per component, topic and status, with and without rules', async () => {
    const { Registry } = await import('prom-client');
    const { DaprMetrics } = await import('../../telemetry/metrics/dapr-metrics.js');
    for (const rules of [[], [{ name: 'dapr_component_pubsub_egress_count', labels: [{ name: 'topic', regex: { 'orders': 'orders-[0-9]+' } }] }]]) {
      const registry = new Registry();
      const m = new DaprMetrics(registry, metricsSettings({ rules }), 'ns');
      m.recordPublish('ps', 'orders-1', true, 3);
      m.recordPublish('ps', 'orders-1', true, 4);
      m.recordPublish('ps', 'orders-1', false, 5);
      m.recordPublish('other', 'orders-2', true, 1);
      m.recordDelivery('ps', 'orders-1', 'success', 'success', 2);
      m.recordDelivery('ps', 'orders-1', 'success', 'success', 0);
      m.recordDelivery('ps', 'orders-1', 'retry', 'retry', 7);
      const text = await registry.metrics();
      const topic = rules.length > 0 ? 'orders' : 'orders-1';
      expect(text).toContain(`dapr_component_pubsub_egress_count{component="ps",namespace="ns",success="true",topic="${topic}"} 2`);
      expect(text).toContain(`dapr_component_pubsub_egress_count{component="ps",namespace="ns",success="false",topic="${topic}"} 1`);
      expect(text).toContain(`dapr_component_pubsub_egress_count{component="other",namespace="ns",success="true",topic="${rules.length > 0 ? 'orders' : 'orders-2'}"} 1`);
      expect(text).toContain('dapr_component_pubsub_egress_latencies_count{component="ps",namespace="ns",success="true",topic="orders-1"} 2');
      expect(text).toContain('dapr_component_pubsub_ingress_count{component="ps",namespace="ns",process_status="success",topic="orders-1",status="success"} 2');
      expect(text).toContain('dapr_component_pubsub_ingress_count{component="ps",namespace="ns",process_status="retry",topic="orders-1",status="retry"} 1');
      // A zero duration is counted but not observed, as before.
      expect(text).toContain('dapr_component_pubsub_ingress_latencies_count{component="ps",namespace="ns",process_status="success",topic="orders-1",status="success"} 1');
    }
  });
});

describe('plain metric series', () => {
  it("give the registry the scrape text prom-client's Counter and Histogram give for the same observations", async () => {
    const { Counter, Histogram, Registry } = await import('prom-client');
    const { CounterFamily, HistogramFamily } = await import('../../telemetry/metrics/series.js');
    const theirs = new Registry();
    const ours = new Registry();
    for (const r of [theirs, ours]) r.setDefaultLabels({ app_id: 'a' });
    const buckets = [1, 5, 10, 100];
    const c = new Counter({ name: 'x_count', help: 'Xs.', labelNames: ['method', 'path'], registers: [theirs] });
    const h = new Histogram({ name: 'x_latency', help: 'X latency (ms).', labelNames: ['method', 'path'], buckets, registers: [theirs] });
    const bare = new Histogram({ name: 'x_bytes', help: 'X bytes.', buckets, registers: [theirs] });
    const idle = new Counter({ name: 'x_idle', help: 'Never counted.', registers: [theirs] });
    const oc = new CounterFamily('x_count', 'Xs.', ['method', 'path'], undefined).register(ours);
    const oh = new HistogramFamily('x_latency', 'X latency (ms).', ['method', 'path'], buckets, undefined).register(ours);
    const obare = new HistogramFamily('x_bytes', 'X bytes.', [], buckets, undefined).register(ours).cell({});
    new CounterFamily('x_idle', 'Never counted.', [], undefined).register(ours);
    void idle;
    for (const [method, path, v] of [['GET', '/a', 0], ['GET', '/a', 7], ['PUT', '/b "q"', 250], ['GET', '/a', 5]] as const) {
      c.inc({ method, path });
      h.observe({ method, path }, v);
      bare.observe(v * 3);
      oc.cell({ method, path }).inc();
      oh.cell({ method, path }).observe(v);
      obare.observe(v * 3);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
  });
});
