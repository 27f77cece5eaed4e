// The span exporters `spec.tracing` can turn on together, each one batch (./batch.ts):
//   OTLP/HTTP protobuf (as daprd sends it): spans encoded as they end (./otlp-protobuf.ts), posted
//     over a keep-alive connection pool of our own;
//   OTLP/HTTP JSON and OTLP/gRPC: OpenTelemetry's exporters, given the batch as ReadableSpans;
//   Zipkin v2 JSON (as `dapr init` configures it), posted like OTLP;
//   stdout: one log line per span.
// Plain spans are converted to what a format needs when its batch is sent, off the request path.
// Failures are reported by the batch, never thrown into traffic.
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { Pool } from 'undici';
import type { Logger } from '../../core/component.js';
import type { SpanKind } from '../../core/telemetry.js';
import { SpanBatch, type BatchFormat } from './batch.js';
import { OtlpProtobufBatch } from './otlp-protobuf.js';
import { STATUS_ERROR, type RecordedSpan, type SpanRecorder } from './recorded-span.js';
import type { OtlpSettings } from './settings.js';

/** What every exporter needs besides its own settings. */
export interface ExportContext {
  /** Resource attributes (service.name last, as the tracer always set it). */
  resource: Readonly<Record<string, string>>;
  /** Instrumentation scope name. */
  scope: string;
  report: (message: string, fields?: Record<string, unknown>) => boolean;
}

const DEFAULT_TIMEOUT_MS = 10_000;
// OpenTelemetry's exporter retry policy: 429 and gateway errors (and failed connections) are
// tried again, at most five times, after 1 s growing by half each time (±20%, at most 5 s, or
// what Retry-After says), while the export's deadline allows.
const RETRYABLE = new Set([429, 502, 503, 504]);
const MAX_ATTEMPTS = 5;
const gzipped = promisify(gzip);

/** Posts export bodies to one URL over a small keep-alive pool. */
export class HttpPost {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly url: string,
    contentType: string,
    headers: Readonly<Record<string, string>>,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
    private readonly gzip = false,
  ) {
    const u = new URL(url);
    this.pool = new Pool(u.origin, { connections: 2, pipelining: 1 });
    this.path = `${u.pathname}${u.search}`;
    this.headers = { ...headers, 'content-type': contentType, ...(gzip ? { 'content-encoding': 'gzip' } : {}) };
  }

  async send(payload: Buffer | string): Promise<void> {
    const body = this.gzip ? await gzipped(payload) : payload;
    const deadline = Date.now() + this.timeoutMs;
    let backoff = 1000;
    for (let attempt = 1; ; attempt++) {
      let failure: Error;
      let retryable: boolean;
      let retryIn: number | undefined;
      try {
        const res = await this.pool.request({ method: 'POST', path: this.path, headers: this.headers, body, signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) });
        await res.body.dump();
        if (res.statusCode < 300) return;
        failure = new Error(`${this.url} answered ${res.statusCode}`);
        retryable = RETRYABLE.has(res.statusCode);
        const after = Number(res.headers['retry-after']);
        if (Number.isFinite(after) && after >= 0) retryIn = after * 1000;
      } catch (err) {
        const e = err as Error;
        failure = new Error(`${this.url}: ${e.message}`);
        retryable = e.name !== 'TimeoutError' && e.name !== 'AbortError';
      }
      const wait = retryIn ?? Math.min(backoff * (0.8 + Math.random() * 0.4), 5000);
      backoff *= 1.5;
      if (!retryable || attempt >= MAX_ATTEMPTS || Date.now() + wait > deadline) throw failure;
      await new Promise((r) => setTimeout(r, wait).unref());
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** A batch kept as the spans themselves, for formats converted when the batch is sent. */
class SpanList implements BatchFormat<RecordedSpan[]> {
  private spans: RecordedSpan[] = [];

  append(span: RecordedSpan): void {
    this.spans.push(span);
  }

  take(): RecordedSpan[] {
    const out = this.spans;
    this.spans = [];
    return out;
  }
}

export function otlpProtobufExporter(s: OtlpSettings, ctx: ExportContext): SpanRecorder {
  const post = new HttpPost(s.url, 'application/x-protobuf', s.headers, s.timeoutMs, s.gzip);
  return new SpanBatch(new OtlpProtobufBatch(ctx.resource, ctx.scope), (body) => post.send(body), ctx.report, undefined, () => post.close());
}

/** OTLP/HTTP JSON and OTLP/gRPC through OpenTelemetry's exporters (loaded only for these). */
export async function otlpSdkExporter(s: OtlpSettings, ctx: ExportContext): Promise<SpanRecorder> {
  const { toReadableSpans } = await import('./readable-span.js');
  const timeout = s.timeoutMs ? { timeoutMillis: s.timeoutMs } : {};
  let exporter: import('@opentelemetry/sdk-trace-base').SpanExporter;
  if (s.protocol === 'grpc') {
    const [{ Metadata }, { OTLPTraceExporter }] = await Promise.all([import('@grpc/grpc-js'), import('@opentelemetry/exporter-trace-otlp-grpc')]);
    // The URL's scheme selects TLS (https: the system's roots) or plaintext.
    const metadata = new Metadata();
    for (const [k, v] of Object.entries(s.headers)) metadata.set(k.toLowerCase(), v);
    exporter = new OTLPTraceExporter({ url: s.url, metadata, ...timeout });
  } else {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    exporter = new OTLPTraceExporter({ url: s.url, headers: s.headers, ...timeout });
  }
  const convert = await toReadableSpans(ctx.resource, ctx.scope);
  const send = (spans: RecordedSpan[]): Promise<void> =>
    new Promise((resolve, reject) =>
      exporter.export(convert(spans), (r) => (r.code === 0 ? resolve() : reject(r.error ?? new Error(`OTLP export to ${s.url} failed`)))),
    );
  return new SpanBatch(new SpanList(), send, ctx.report, undefined, () => exporter.shutdown());
}

const ZIPKIN_KIND: Partial<Record<SpanKind, string>> = { client: 'CLIENT', server: 'SERVER', producer: 'PRODUCER', consumer: 'CONSUMER' };

/** One span in Zipkin's v2 JSON model. */
export function toZipkin(span: RecordedSpan, serviceName: string): Record<string, unknown> {
  const tags: Record<string, string> = {};
  for (let i = 0; i < span.keys.length; i++) tags[span.keys[i]!] = String(span.values[i]);
  if (span.statusCode === STATUS_ERROR) {
    tags['otel.status_code'] = 'ERROR';
    tags.error = span.statusMessage;
  }
  const out: Record<string, unknown> = {
    traceId: span.traceId,
    id: span.spanId,
    name: span.name,
    timestamp: Math.round(span.startMs * 1000),
    duration: Math.max(1, Math.round((span.endMs - span.startMs) * 1000)),
    localEndpoint: { serviceName },
    tags,
  };
  if (span.parentSpanId) out.parentId = span.parentSpanId;
  const kind = ZIPKIN_KIND[span.kind];
  if (kind) out.kind = kind;
  return out;
}

export function zipkinExporter(url: string, ctx: ExportContext): SpanRecorder {
  const post = new HttpPost(url, 'application/json', {});
  const service = ctx.resource['service.name'] ?? '';
  return new SpanBatch(new SpanList(), (spans) => post.send(JSON.stringify(spans.map((s) => toZipkin(s, service)))), ctx.report, undefined, () => post.close());
}

/** Writes each span as one log line (`spec.tracing.stdout`). */
export function logExporter(logger: Logger, ctx: ExportContext): SpanRecorder {
  const service = ctx.resource['service.name'] ?? '';
  return new SpanBatch(
    new SpanList(),
    async (spans) => {
      for (const s of spans) logger.info(`span ${s.name}`, { span: toZipkin(s, service) });
    },
    ctx.report,
  );
}
