// The tracer when spans go nowhere (sampling above 0, no exporter: Dapr's default of one trace in
// ten thousand with no Configuration). Nothing is recorded, so OpenTelemetry is not loaded; the
// wire behaviour is the SDK's: every span gets a fresh span id (a new root a fresh trace id too),
// a child keeps its parent's sampled flag (parent-based), and a root is sampled by the trace-id
// ratio rule of OpenTelemetry's TraceIdRatioBasedSampler, so peers with exporters agree.
import { randomFillSync } from 'node:crypto';
import type { AttributeValue, Span, SpanKind, TraceHeaders } from '../../core/telemetry.js';
import { formatTraceparent, parseTraceparent, tracestateToSend, validTracestate } from './context.js';

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

  constructor(samplingRate: number) {
    const ratio = Math.min(1, Math.max(0, samplingRate));
    this.bound = ratio === 1 ? 2 ** 32 : Math.floor(ratio * 0xffffffff);
  }

  startSpan(_name: string, _kind: SpanKind, parent?: TraceHeaders, _startTimeMs?: number): Span {
    const p = parseTraceparent(parent?.traceparent);
    if (this.next === this.ids.length) {
      randomFillSync(this.ids);
      this.next = 0;
    }
    const at = this.next;
    this.next += 24;
    const spanId = nonZeroHex(this.ids, at + 16, at + 24);
    if (p) return new ContextSpan(p.traceId, spanId, p.flags & SAMPLED, tracestateToSend(validTracestate(parent?.tracestate)));
    const traceId = nonZeroHex(this.ids, at, at + 16);
    return new ContextSpan(traceId, spanId, this.isSampled(traceId) ? SAMPLED : 0, undefined);
  }

  /** TraceIdRatioBasedSampler's rule: the trace id's four 32-bit words XORed, below ratio × (2³²−1) (every id at ratio 1). */
  isSampled(traceId: string): boolean {
    let acc = 0;
    for (let i = 0; i < 32; i += 8) acc = (acc ^ parseInt(traceId.slice(i, i + 8), 16)) >>> 0;
    return acc < this.bound;
  }

  async shutdown(): Promise<void> {}
}

/** Hex of `buf[start, end)`; an all-zero id is invalid in W3C trace context, so its last byte becomes 1. */
function nonZeroHex(buf: Buffer, start: number, end: number): string {
  let zero = true;
  for (let i = start; i < end && zero; i++) zero = buf[i] === 0;
  if (zero) buf[end - 1] = 1;
  return buf.toString('hex', start, end);
}
