// The sidecar's tracer: OpenTelemetry's SDK behind our small Span interface. Parent-based
// sampling over a trace-id ratio (an incoming sampled flag is honoured either way), resource
// `service.name` = app id, tracer `dapr-diagnostics`, one bounded batch queue per exporter.
// Unsampled spans still get fresh ids so `traceparent` (flags 00) keeps travelling.
import { STATUS_CODES } from 'node:http';
import {
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  SpanKind as OtelKind,
  SpanStatusCode,
  TraceFlags,
  trace,
  type Context,
  type Span as OtelSpan,
  type SpanOptions,
  type Tracer as OtelTracer,
} from '@opentelemetry/api';
import { setGlobalErrorHandler, TraceState } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { Logger } from '../../core/component.js';
import type { AttributeValue, Span, SpanKind, TraceHeaders } from '../../core/telemetry.js';
import { formatTraceparent, parseTraceparent, tracestateToSend, validTracestate } from './context.js';
import { LogExporter, otlpExporter, ZipkinExporter } from './exporters.js';
import type { TracingSettings } from './settings.js';

const KINDS: Record<SpanKind, OtelKind> = {
  server: OtelKind.SERVER,
  client: OtelKind.CLIENT,
  producer: OtelKind.PRODUCER,
  consumer: OtelKind.CONSUMER,
  internal: OtelKind.INTERNAL,
};

// The key under which a Context holds its span, learned through the public API once: a probe
// context records the key `trace.setSpan` stores with.
const SPAN_KEY: symbol = (() => {
  let key: symbol | undefined;
  const probe: Context = {
    getValue: () => undefined,
    setValue: (k) => ((key = k), probe),
    deleteValue: () => probe,
  };
  trace.setSpan(probe, trace.wrapSpanContext(INVALID_SPAN_CONTEXT));
  if (!key) throw new Error('OpenTelemetry did not reveal its span context key');
  return key;
})();

/**
 * The context of a span started from an incoming `traceparent`: it only holds the remote
 * parent, which is all the SDK reads from it (`trace.getSpan`). A full Context would copy a Map
 * and make three closures for every traced request.
 */
class RemoteParent implements Context {
  constructor(private readonly parent: OtelSpan) {}

  getValue(key: symbol): unknown {
    return key === SPAN_KEY ? this.parent : undefined;
  }

  setValue(key: symbol, value: unknown): Context {
    return ROOT_CONTEXT.setValue(SPAN_KEY, this.parent).setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return key === SPAN_KEY ? ROOT_CONTEXT : this;
  }
}

// One options object per kind, shared by every span started now (the SDK only reads it).
const SPAN_OPTIONS: Record<SpanKind, SpanOptions> = {
  server: Object.freeze({ kind: OtelKind.SERVER }),
  client: Object.freeze({ kind: OtelKind.CLIENT }),
  producer: Object.freeze({ kind: OtelKind.PRODUCER }),
  consumer: Object.freeze({ kind: OtelKind.CONSUMER }),
  internal: Object.freeze({ kind: OtelKind.INTERNAL }),
};

/** Bounds of each exporter's queue: spans beyond maxQueueSize are dropped, never waited for. */
const BATCH = { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 1000, exportTimeoutMillis: 10_000 };

class SdkSpan implements Span {
  readonly traceparent: string;
  readonly tracestate: string | undefined;
  readonly traceId: string;
  readonly spanId: string;
  readonly isRecording: boolean;

  constructor(
    private readonly span: OtelSpan,
    tracestate: string | undefined,
  ) {
    const sc = span.spanContext();
    this.traceId = sc.traceId;
    this.spanId = sc.spanId;
    this.traceparent = formatTraceparent(sc.traceId, sc.spanId, sc.traceFlags);
    this.tracestate = tracestate;
    this.isRecording = span.isRecording();
  }

  setAttribute(key: string, value: AttributeValue): void {
    if (this.isRecording && value !== '') this.span.setAttribute(key, value);
  }

  updateName(name: string): void {
    if (this.isRecording) this.span.updateName(name);
  }

  setHttpStatus(status: number): void {
    if (this.isRecording && status >= 400) this.span.setStatus({ code: SpanStatusCode.ERROR, message: `Code(${status}): ${STATUS_CODES[status] ?? ''}` });
  }

  recordError(err: unknown): void {
    if (this.isRecording) this.span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  }

  end(): void {
    this.span.end();
  }
}

export class Tracer {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: OtelTracer;

  constructor(settings: TracingSettings, appId: string, logger: Logger, env: Readonly<Record<string, string | undefined>>) {
    const processors: SpanProcessor[] = [];
    if (settings.otlp) processors.push(new BatchSpanProcessor(otlpExporter(settings.otlp), BATCH));
    if (settings.zipkinUrl) processors.push(new BatchSpanProcessor(new ZipkinExporter(settings.zipkinUrl), BATCH));
    if (settings.stdout) processors.push(new BatchSpanProcessor(new LogExporter(logger.child({ scope: 'dapr.runtime.trace' })), BATCH));
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ ...resourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES), 'service.name': env.OTEL_SERVICE_NAME || appId }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.samplingRate) }),
      spanProcessors: processors,
    });
    this.tracer = this.provider.getTracer('dapr-diagnostics');
    reportExportErrorsTo(logger);
  }

  startSpan(name: string, kind: SpanKind, parent?: TraceHeaders, startTimeMs?: number): Span {
    const p = parseTraceparent(parent?.traceparent);
    let ctx: Context = ROOT_CONTEXT;
    let tracestate: string | undefined;
    if (p) {
      tracestate = validTracestate(parent?.tracestate);
      ctx = new RemoteParent(
        trace.wrapSpanContext({
          traceId: p.traceId,
          spanId: p.spanId,
          traceFlags: p.flags & TraceFlags.SAMPLED,
          isRemote: true,
          traceState: tracestate ? new TraceState(tracestate) : undefined,
        }),
      );
    }
    const span = this.tracer.startSpan(name, startTimeMs === undefined ? SPAN_OPTIONS[kind] : { kind: KINDS[kind], startTime: startTimeMs }, ctx);
    return new SdkSpan(span, tracestateToSend(tracestate));
  }

  /** Exports what is queued (bounded by the exporters' timeouts), then stops. */
  async shutdown(): Promise<void> {
    await this.provider.shutdown().catch(() => undefined);
  }
}

function resourceAttributes(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of (text ?? '').split(',')) {
    const eq = item.indexOf('=');
    if (eq > 0) out[decodeURIComponent(item.slice(0, eq).trim())] = decodeURIComponent(item.slice(eq + 1).trim());
  }
  return out;
}

// OpenTelemetry reports export failures through one process-wide handler: log them, at most one
// line per distinct message every 30 seconds, so a dead collector cannot flood the log.
let errorLogger: Logger | undefined;
const lastLogged = new Map<string, number>();
function reportExportErrorsTo(logger: Logger): void {
  if (!errorLogger) {
    setGlobalErrorHandler((err) => {
      const msg = err instanceof Error ? err.message : typeof err === 'string' ? err : JSON.stringify(err);
      const now = Date.now();
      if ((lastLogged.get(msg) ?? 0) + 30_000 > now) return;
      lastLogged.set(msg, now);
      if (lastLogged.size > 100) lastLogged.clear();
      errorLogger?.warn(`trace export failed: ${msg}`);
    });
  }
  errorLogger = logger.child({ scope: 'dapr.runtime.diagnostics' });
}
