// The tracer used when sampled spans have no exporter: it must put on the wire what the
// OpenTelemetry SDK would (fresh span ids, parent-based flags, the trace-id ratio decision).
import { randomBytes } from 'node:crypto';
import { ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { SamplingDecision, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { parseTraceparent } from '../../telemetry/tracing/context.js';
import { PropagatingTracer } from '../../telemetry/tracing/propagating-tracer.js';

const T = '0af7651916cd43dd8448eb211c80319c';
const S = 'b7ad6b7169203331';

describe('PropagatingTracer', () => {
  it('continues the caller trace with a fresh span id, its sampled flag and its tracestate', () => {
    const tracer = new PropagatingTracer(0.0001);
    const sampled = tracer.startSpan('x', 'client', { traceparent: `00-${T}-${S}-01`, tracestate: 'congo=t61rcWkgMzE' });
    const p = parseTraceparent(sampled.traceparent)!;
    expect(p.traceId).toBe(T);
    expect(p.spanId).not.toBe(S);
    expect(p.flags).toBe(1);
    expect(sampled.tracestate).toBe('congo=t61rcWkgMzE');
    expect(sampled.traceId).toBe(T);
    expect(sampled.isRecording).toBe(false);
    const unsampled = new PropagatingTracer(1).startSpan('x', 'server', { traceparent: `00-${T}-${S}-00`, tracestate: 'bad key=1' });
    expect(parseTraceparent(unsampled.traceparent)!.flags).toBe(0);
    expect(unsampled.tracestate).toBeUndefined();
  });

  it('starts a new root, with new ids each time, when the traceparent is absent or invalid', () => {
    const tracer = new PropagatingTracer(1);
    const a = parseTraceparent(tracer.startSpan('x', 'client').traceparent)!;
    const b = parseTraceparent(tracer.startSpan('x', 'client', { traceparent: `00-${'0'.repeat(32)}-${S}-01` }).traceparent)!;
    expect(a.traceId).not.toBe(b.traceId);
    expect(a.spanId).not.toBe(b.spanId);
    expect([a.flags, b.flags]).toEqual([1, 1]);
  });

  it("samples roots exactly as OpenTelemetry's TraceIdRatioBasedSampler does", () => {
    for (const ratio of [0, 0.0001, 0.25, 0.5, 1]) {
      const ours = new PropagatingTracer(ratio);
      const otel = new TraceIdRatioBasedSampler(ratio);
      let sampled = 0;
      for (let i = 0; i < 2000; i++) {
        const id = randomBytes(16).toString('hex');
        const expected = otel.shouldSample(ROOT_CONTEXT, id, 'x', SpanKind.CLIENT, {}, []).decision === SamplingDecision.RECORD_AND_SAMPLED;
        expect(ours.isSampled(id)).toBe(expected);
        if (expected) sampled++;
      }
      if (ratio === 0) expect(sampled).toBe(0);
      if (ratio === 1) expect(sampled).toBe(2000);
    }
  });
});
