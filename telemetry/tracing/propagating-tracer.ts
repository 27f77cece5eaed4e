// The sidecar's one tracer: span ids and the sampling decision, with the OpenTelemetry SDK's wire
// behaviour and without its objects. Every span gets a fresh span id (a new root a fresh trace id
// too), a child keeps its parent's sampled flag (parent-based), and a root is sampled by the
// trace-id ratio rule of OpenTelemetry's TraceIdRatioBasedSampler, so peers agree. Unsampled
// spans (and every span when there is no exporter: Dapr's default of one trace in ten thousand
// with no Configuration) only carry context; sampled spans are recorded (./recorded-span.ts) when
// a recorder (the exporters) is given.
import { randomFillSync } from 'node:crypto';
import type { AttributeValue, Span, SpanKind, TraceHeaders } from '../../core/telemetry.js';
import { formatTraceparent, parseTraceparent, recordedTracestate, tracestateToSend, validTracestate } from './context.js';
import { epochMs, RecordedSpan, type SpanRecorder } from './recorded-span.js';

const SAMPLED = 0x01;

class ContextSpan implements Span {
  readonly traceparent: string;
  readonly isRecording = false;

  constructor(
    readonly traceId: string,
    spanId: string,
    flags: number,
    readonly tracestate: string | undefined,
  ) {
    this.traceparent = formatTraceparent(traceId, spanId, flags);
  }

  setAttribute(_key: string, _value: AttributeValue): void {}
  updateName(_name: string): void {}
  setHttpStatus(_status: number): void {}
  recordError(_err: unknown): void {}
  end(): void {}
}

export class PropagatingTracer {
  private readonly bound: number;
  /** Random bytes for 256 spans, refilled when used up (one syscall per 256 spans, not per span). */
  private readonly ids = Buffer.alloc(24 * 256);
  private next = this.ids.length;

  constructor(
    samplingRate: number,
    /** Where sampled spans go; without one they are not recorded. */
    private readonly recorder?: SpanRecorder,
  ) {
    const ratio = Math.min(1, Math.max(0, samplingRate));
    this.bound = ratio === 1 ? 2 ** 32 : Math.floor(ratio * 0xffffffff);
  }

  /** `startTimeMs`: epoch milliseconds (see epochMs) for a span back-dated to when its work began. */
  startSpan(name: string, kind: SpanKind, parent?: TraceHeaders, startTimeMs?: number): Span {
    const p = parseTraceparent(parent?.traceparent);
    if (this.next === this.ids.length) {
      randomFillSync(this.ids);
      this.next = 0;
    }
    const at = this.next;
    this.next += 24;
    const spanId = nonZeroHex(this.ids, at + 16, at + 24);
    if (p) {
      const valid = validTracestate(parent?.tracestate);
      if (this.recorder && p.flags & SAMPLED) {
        return new RecordedSpan(this.recorder, p.traceId, spanId, p.spanId, tracestateToSend(valid), recordedTracestate(valid), name, kind, startTimeMs ?? epochMs());
      }
      return new ContextSpan(p.traceId, spanId, p.flags & SAMPLED, tracestateToSend(valid));
    }
    const traceId = nonZeroHex(this.ids, at, at + 16);
    if (!this.sampledAt(this.ids, at)) return new ContextSpan(traceId, spanId, 0, undefined);
    if (this.recorder) return new RecordedSpan(this.recorder, traceId, spanId, undefined, undefined, undefined, name, kind, startTimeMs ?? epochMs());
    return new ContextSpan(traceId, spanId, SAMPLED, undefined);
  }

  /** TraceIdRatioBasedSampler's rule: the trace id's four 32-bit words XORed, below ratio × (2³²−1) (every id at ratio 1). */
  isSampled(traceId: string): boolean {
    return this.sampledAt(Buffer.from(traceId, 'hex'), 0);
  }

  /** The same rule on the 16 bytes of a trace id at `at` (no hex parsing on the request path). */
  private sampledAt(id: Buffer, at: number): boolean {
    const acc = (id.readUInt32BE(at) ^ id.readUInt32BE(at + 4) ^ id.readUInt32BE(at + 8) ^ id.readUInt32BE(at + 12)) >>> 0;
    return acc < this.bound;
  }

  /** Flushes what the recorder holds (bounded by the exporters' timeouts), then stops. */
  async shutdown(): Promise<void> {
    await this.recorder?.shutdown();
  }
}

/** Hex of `buf[start, end)`; an all-zero id is invalid in W3C trace context, so its last byte becomes 1. */
function nonZeroHex(buf: Buffer, start: number, end: number): string {
  let zero = true;
  for (let i = start; i < end && zero; i++) zero = buf[i] === 0;
  if (zero) buf[end - 1] = 1;
  return buf.toString('hex', start, end);
}
