// Plain spans as OpenTelemetry ReadableSpans, for the exporters we take from OpenTelemetry
// (OTLP/HTTP JSON, OTLP/gRPC). Converted per batch, when it is sent; the protobuf exporter needs
// none of this. test/unit/trace-export.test.ts checks the result serializes to our own bytes.
import type { Attributes, HrTime, SpanContext } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { SpanKind } from '../../core/telemetry.js';
import type { RecordedSpan } from './recorded-span.js';

/** OpenTelemetry API SpanKind numbers. */
const KIND: Record<SpanKind, number> = { internal: 0, server: 1, client: 2, producer: 3, consumer: 4 };

/** Milliseconds (epoch or a duration) as the SDK's millisToHrTime makes them. */
function hrTime(ms: number): HrTime {
  return [Math.trunc(ms / 1000), Math.round((ms % 1000) * 1e6)];
}

/** A converter for spans of one resource and scope (loads @opentelemetry/resources once). */
export async function toReadableSpans(resourceAttributes: Readonly<Record<string, string>>, scope: string): Promise<(spans: RecordedSpan[]) => ReadableSpan[]> {
  const { resourceFromAttributes } = await import('@opentelemetry/resources');
  const resource = resourceFromAttributes({ ...resourceAttributes });
  const instrumentationScope = { name: scope };
  return (spans) =>
    spans.map((s): ReadableSpan => {
      const attributes: Attributes = {};
      for (let i = 0; i < s.keys.length; i++) attributes[s.keys[i]!] = s.values[i];
      const ts = s.recordedTracestate;
      const context: SpanContext = {
        traceId: s.traceId,
        spanId: s.spanId,
        traceFlags: 1,
        ...(ts ? { traceState: { serialize: () => ts } as SpanContext['traceState'] } : {}),
      };
      return {
        name: s.name,
        kind: KIND[s.kind],
        spanContext: () => context,
        ...(s.parentSpanId ? { parentSpanContext: { traceId: s.traceId, spanId: s.parentSpanId, traceFlags: 1, isRemote: true } } : {}),
        startTime: hrTime(s.startMs),
        endTime: hrTime(s.endMs),
        duration: hrTime(s.endMs - s.startMs),
        status: s.statusMessage ? { code: s.statusCode, message: s.statusMessage } : { code: s.statusCode },
        attributes,
        links: [],
        events: [],
        ended: true,
        resource,
        instrumentationScope,
        droppedAttributesCount: s.droppedAttributes,
        droppedEventsCount: 0,
        droppedLinksCount: 0,
      };
    });
}
