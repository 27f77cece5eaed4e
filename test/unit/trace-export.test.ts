// Spans exported over OTLP must be what the OpenTelemetry SDK sent before we recorded them
// ourselves. The same spans are made twice: by our tracer (ids, sampling, tracestate, attributes,
// status, times) and by the SDK configured as the sidecar's tracer used to be (resource, scope
// `dapr-diagnostics`, parent-based sampling, the incoming context as a remote parent), given our
// ids and times. Our protobuf encoder must write the very bytes OpenTelemetry's serializer
// writes for the SDK's spans; and our spans converted to ReadableSpans (for the OTLP JSON and
// gRPC exporters) must serialize to them too.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span as OtelSpan } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, ParentBasedSampler, SimpleSpanProcessor, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import type { AttributeValue, SpanKind as OurKind, TraceHeaders } from '../../core/telemetry.js';
import { parseTraceparent, validTracestate } from '../../telemetry/tracing/context.js';
import { SpanBatch } from '../../telemetry/tracing/batch.js';
import { HttpPost } from '../../telemetry/tracing/exporters.js';
import { OtlpProtobufBatch } from '../../telemetry/tracing/otlp-protobuf.js';
import { PropagatingTracer } from '../../telemetry/tracing/propagating-tracer.js';
import { toReadableSpans } from '../../telemetry/tracing/readable-span.js';
import type { RecordedSpan, SpanRecorder } from '../../telemetry/tracing/recorded-span.js';
import { SCOPE_NAME } from '../../telemetry/tracing/tracer.js';

const RESOURCE = { 'deployment.environment': 'tést', 'service.name': 'orders' };
const KINDS: Record<OurKind, SpanKind> = { server: SpanKind.SERVER, client: SpanKind.CLIENT, producer: SpanKind.PRODUCER, consumer: SpanKind.CONSUMER, internal: SpanKind.INTERNAL };

class Collect implements SpanRecorder {
  readonly spans: RecordedSpan[] = [];
  record(span: RecordedSpan): void {
    this.spans.push(span);
  }
  async shutdown(): Promise<void> {}
}

/** Our tracer and the SDK side by side; the SDK takes our ids. */
function pair() {
  const ours = new Collect();
  const tracer = new PropagatingTracer(1, ours);
  const ids = { trace: '', span: '' };
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(RESOURCE),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(1) }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
    idGenerator: { generateTraceId: () => ids.trace, generateSpanId: () => ids.span },
  });
  const sdk = provider.getTracer(SCOPE_NAME);

  /** Runs `body` on a span of each; returns after both ended. */
  function span(name: string, kind: OurKind, parent: TraceHeaders | undefined, startMs: number, body: (s: { setAttribute(k: string, v: AttributeValue): void; updateName(n: string): void; setHttpStatus(n: number): void; recordError(e: unknown): void }) => void): void {
    const mine = tracer.startSpan(name, kind, parent, startMs) as RecordedSpan;
    expect(mine.isRecording).toBe(true);
    ids.trace = mine.traceId;
    ids.span = mine.spanId;
    // The context the old tracer gave the SDK: the incoming traceparent as a remote parent.
    let ctx: Context = ROOT_CONTEXT;
    const p = parseTraceparent(parent?.traceparent);
    if (p) {
      const ts = validTracestate(parent?.tracestate);
      ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: p.traceId, spanId: p.spanId, traceFlags: p.flags & 1, isRemote: true, ...(ts ? { traceState: new TraceState(ts) } : {}) });
    }
    const theirs: OtelSpan = sdk.startSpan(name, { kind: KINDS[kind], startTime: startMs }, ctx);
    // The old SdkSpan's rules: empty strings are not set; an HTTP status >= 400 is an error.
    const both = {
      setAttribute(k: string, v: AttributeValue) {
        mine.setAttribute(k, v);
        if (v !== '') theirs.setAttribute(k, v);
      },
      updateName(n: string) {
        mine.updateName(n);
        theirs.updateName(n);
      },
      setHttpStatus(n: number) {
        mine.setHttpStatus(n);
        if (n >= 400) theirs.setStatus({ code: SpanStatusCode.ERROR, message: `Code(${n}): ${n === 404 ? 'Not Found' : 'Service Unavailable'}` });
      },
      recordError(e: unknown) {
        mine.recordError(e);
        theirs.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
      },
    };
    body(both);
    mine.end();
    theirs.end(mine.endMs);
  }
  return { span, ours: ours.spans, theirs: () => memory.getFinishedSpans() };
}

function build() {
  const p = pair();
  const t0 = Date.now() + 0.123456;
  p.span('/v1.0/invoke/b/method/pay', 'client', undefined, t0, (s) => {
    s.setAttribute('dapr.protocol', 'http');
    s.setAttribute('dapr.status_code', 404);
    s.setAttribute('server.port', 52000);
    s.setAttribute('negative', -7);
    s.setAttribute('ratio', 0.25);
    s.setAttribute('big', 2 ** 40);
    s.setAttribute('flag', true);
    s.setAttribute('empty', '');
    s.setAttribute('dapr-app-id', 'ünïcode ✓');
    s.setAttribute('url.full', `/v1.0/invoke/b/method/pay?${'x'.repeat(300)}`);
    s.setAttribute('dapr.protocol', 'http2'); // a repeated key keeps its place
    s.updateName('CallLocal/b/pay');
    s.setHttpStatus(404);
  });
  p.span('CallLocal/b/pay', 'server', { traceparent: `00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01`, tracestate: ' congo=t61rcWkgMzE ,1x=3,,rojo=00f067aa0ba902b7' }, t0 + 1.5, (s) => {
    s.setAttribute('rpc.service', 'ServiceInvocation');
    s.recordError(new Error('connection refused'));
    s.setHttpStatus(503);
  });
  p.span('state/store/get', 'client', { traceparent: `00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01` }, t0 + 2, (s) => {
    for (let i = 0; i < 130; i++) s.setAttribute(`a${i}`, i); // two beyond the SDK's limit of 128
  });
  for (const kind of ['internal', 'producer', 'consumer'] as const) p.span(`k/${kind}`, kind, undefined, t0 + 3, () => undefined);
  // Enough spans that the scope's and the request's lengths take three varint bytes.
  for (let i = 0; i < 200; i++) p.span(`bulk/${i}`, 'client', undefined, t0 + 4 + i / 7, (s) => s.setAttribute('i', i));
  return p;
}

describe('OTLP trace export', () => {
  it("encodes spans to the bytes OpenTelemetry's protobuf serializer writes for the SDK's spans", () => {
    const p = build();
    const batch = new OtlpProtobufBatch(RESOURCE, SCOPE_NAME);
    for (const s of p.ours) batch.append(s);
    const ours = batch.take();
    const theirs = Buffer.from(ProtobufTraceSerializer.serializeRequest(p.theirs())!);
    expect(ours.length).toBeGreaterThan(16384);
    expect(ours.toString('hex')).toBe(theirs.toString('hex'));
    // The batch starts over after take().
    batch.append(p.ours[0]!);
    expect(batch.take().length).toBeLessThan(1000);
  });

  it('converts spans to ReadableSpans that serialize as the SDK spans do (OTLP JSON and gRPC exporters)', async () => {
    const p = build();
    const convert = await toReadableSpans(RESOURCE, SCOPE_NAME);
    const readable = convert(p.ours);
    expect(Buffer.from(ProtobufTraceSerializer.serializeRequest(readable)!).toString('hex')).toBe(Buffer.from(ProtobufTraceSerializer.serializeRequest(p.theirs())!).toString('hex'));
    expect(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(readable))).toBe(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(p.theirs())));
  });
});

describe('span batches', () => {
  it('send a full batch at once and the rest after the delay, one send at a time; drop beyond the bound and report the count', async () => {
    vi.useFakeTimers();
    try {
      const sent: string[][] = [];
      let release: () => void = () => undefined;
      const reports: Array<[string, Record<string, unknown> | undefined]> = [];
      const names: string[] = [];
      const batch = new SpanBatch(
        { append: (s: RecordedSpan) => void names.push(s.name), take: () => names.splice(0) },
        (payload: string[]) => {
          sent.push(payload);
          return new Promise<void>((r) => (release = r));
        },
        (m: string, f?: Record<string, unknown>) => (reports.push([m, f]), true),
        { maxQueueSize: 4, maxBatchSize: 2, delayMs: 1000 },
      );
      const tracer = new PropagatingTracer(1, batch);
      const span = (name: string) => tracer.startSpan(name, 'client').end();
      span('a');
      span('b'); // a full batch goes at once
      expect(sent).toEqual([['a', 'b']]);
      span('c');
      span('d');
      span('e');
      span('f'); // c, d sealed; e, f open: the queue holds 4
      span('g'); // dropped
      await vi.advanceTimersByTimeAsync(1000);
      expect(sent).toHaveLength(1); // the first send has not finished
      release();
      await vi.advanceTimersByTimeAsync(0);
      expect(sent).toEqual([['a', 'b'], ['c', 'd']]);
      expect(reports).toEqual([['span export queue full (4 spans): spans dropped', { dropped: 1 }]]);
      release();
      await vi.advanceTimersByTimeAsync(0);
      expect(sent.at(-1)).toEqual(['e', 'f']);
      span('h');
      const done = batch.shutdown(); // sends what is queued
      release();
      await vi.advanceTimersByTimeAsync(0);
      release();
      await done;
      expect(sent.at(-1)).toEqual(['h']);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('OTLP/HTTP posts', () => {
  it('carry the configured headers and a gzip body when asked, and try a 503 again', async () => {
    const seen: Array<{ headers: Record<string, unknown>; body: Buffer }> = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ headers: req.headers, body: Buffer.concat(chunks) });
        if (seen.length === 1) res.writeHead(503, { 'retry-after': '0' }).end();
        else res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const post = new HttpPost(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`, 'application/x-protobuf', { 'x-tenant': 'a' }, 5000, true);
    try {
      await post.send(Buffer.from('spans'));
      expect(seen).toHaveLength(2);
      for (const s of seen) {
        expect(s.headers).toMatchObject({ 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip', 'x-tenant': 'a' });
        expect(gunzipSync(s.body).toString()).toBe('spans');
      }
    } finally {
      await post.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
