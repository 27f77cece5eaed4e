// The span exporters `spec.tracing` can turn on together: OTLP (the OpenTelemetry exporters:
// over HTTP with a protobuf body as daprd sends it, or JSON; over gRPC), Zipkin v2 JSON (as
// `dapr init` configures it) and stdout (the sidecar log). Export failures are reported through
// OpenTelemetry's global error handler, never thrown into traffic.
import { Metadata } from '@grpc/grpc-js';
import { ExportResultCode, hrTimeToMicroseconds, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpGrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { request } from 'undici';
import type { Logger } from '../../core/component.js';
import type { OtlpSettings } from './settings.js';

export function otlpExporter(s: OtlpSettings): SpanExporter {
  const timeout = s.timeoutMs ? { timeoutMillis: s.timeoutMs } : {};
  if (s.protocol === 'grpc') {
    // The URL's scheme selects TLS (https: the system's roots) or plaintext.
    const metadata = new Metadata();
    for (const [k, v] of Object.entries(s.headers)) metadata.set(k.toLowerCase(), v);
    return new OtlpGrpcExporter({ url: s.url, metadata, ...timeout });
  }
  const Exporter = s.encoding === 'json' ? OtlpJsonExporter : OtlpProtoExporter;
  return new Exporter({ url: s.url, headers: s.headers, ...timeout });
}

const ZIPKIN_KIND: Partial<Record<SpanKind, string>> = {
  [SpanKind.CLIENT]: 'CLIENT',
  [SpanKind.SERVER]: 'SERVER',
  [SpanKind.PRODUCER]: 'PRODUCER',
  [SpanKind.CONSUMER]: 'CONSUMER',
};

/** One span in Zipkin's v2 JSON model. */
export function toZipkin(span: ReadableSpan): Record<string, unknown> {
  const ctx = span.spanContext();
  const tags: Record<string, string> = {};
  for (const [k, v] of Object.entries(span.attributes)) if (v !== undefined) tags[k] = String(v);
  if (span.status.code === SpanStatusCode.ERROR) {
    tags['otel.status_code'] = 'ERROR';
    tags.error = span.status.message ?? '';
  }
  const out: Record<string, unknown> = {
    traceId: ctx.traceId,
    id: ctx.spanId,
    name: span.name,
    timestamp: Math.round(hrTimeToMicroseconds(span.startTime)),
    duration: Math.max(1, Math.round(hrTimeToMicroseconds(span.duration))),
    localEndpoint: { serviceName: String(span.resource.attributes['service.name'] ?? '') },
    tags,
  };
  if (span.parentSpanContext?.spanId) out.parentId = span.parentSpanContext.spanId;
  const kind = ZIPKIN_KIND[span.kind];
  if (kind) out.kind = kind;
  return out;
}

export class ZipkinExporter implements SpanExporter {
  private inFlight = new Set<Promise<void>>();

  constructor(
    private readonly url: string,
    private readonly timeoutMs = 10_000,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const body = JSON.stringify(spans.map(toZipkin));
    const p = request(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    }).then(
      async (res) => {
        await res.body.dump();
        if (res.statusCode >= 300) done({ code: ExportResultCode.FAILED, error: new Error(`zipkin endpoint ${this.url} answered ${res.statusCode}`) });
        else done({ code: ExportResultCode.SUCCESS });
      },
      (err: Error) => done({ code: ExportResultCode.FAILED, error: new Error(`zipkin endpoint ${this.url}: ${err.message}`) }),
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  async forceFlush(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
  }
}

/** Writes each span as one log line (`spec.tracing.stdout`). */
export class LogExporter implements SpanExporter {
  constructor(private readonly logger: Logger) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    for (const s of spans) this.logger.info(`span ${s.name}`, { span: toZipkin(s) });
    done({ code: ExportResultCode.SUCCESS });
  }

  async shutdown(): Promise<void> {}
}
