// A sampled span as plain data: ids, name, kind, times, attributes and status, recorded with the
// OpenTelemetry SDK's rules (attribute count limit 128, a repeated key overwrites, empty
// strings skipped as before, nothing changes after end) but without its objects. At end() the
// span goes to its recorder (the exporters' batches), which encode it there and then.
import { STATUS_CODES } from 'node:http';
import type { AttributeValue, Span, SpanKind } from '../../core/telemetry.js';
import { formatTraceparent } from './context.js';

/** Where ended spans go: the exporters (see tracer.ts). record() must not block or throw. */
export interface SpanRecorder {
  record(span: RecordedSpan): void;
  /** Exports what is queued (bounded by timeouts), then stops. */
  shutdown(): Promise<void>;
}

/** OTLP's status codes (opentelemetry-proto trace.proto Status.StatusCode). */
export const STATUS_UNSET = 0;
export const STATUS_ERROR = 2;

/** The SDK's default span attribute count limit; attributes beyond it are counted as dropped. */
const ATTRIBUTE_COUNT_LIMIT = 128;

// Wall-clock milliseconds with sub-millisecond precision: the monotonic clock plus an offset to
// Date.now(), taken again every second so a long-running sidecar follows clock adjustments.
let offsetMs = Date.now() - performance.now();
let syncedAt = performance.now();

/** Epoch milliseconds, fractional. */
export function epochMs(): number {
  const now = performance.now();
  if (now - syncedAt > 1000) {
    offsetMs = Date.now() - now;
    syncedAt = now;
  }
  return now + offsetMs;
}

export class RecordedSpan implements Span {
  readonly isRecording = true;
  readonly traceparent: string;
  /** Attribute keys and values, in the order first set (as the SDK's attribute object keeps them). */
  readonly keys: string[] = [];
  readonly values: AttributeValue[] = [];
  droppedAttributes = 0;
  endMs = 0;
  statusCode = STATUS_UNSET;
  statusMessage = '';
  private ended = false;

  constructor(
    private readonly recorder: SpanRecorder,
    readonly traceId: string,
    readonly spanId: string,
    /** The parent's span id when the span continues an incoming context (always remote here). */
    readonly parentSpanId: string | undefined,
    /** The tracestate to send onward (at most 512 characters). */
    readonly tracestate: string | undefined,
    /** The tracestate the span records (the valid incoming one, whatever its length). */
    readonly recordedTracestate: string | undefined,
    public name: string,
    readonly kind: SpanKind,
    readonly startMs: number,
  ) {
    this.traceparent = formatTraceparent(traceId, spanId, 1);
  }

  setAttribute(key: string, value: AttributeValue): void {
    if (this.ended || value === '' || key === '') return;
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === key) {
        this.values[i] = value;
        return;
      }
    }
    if (keys.length >= ATTRIBUTE_COUNT_LIMIT) {
      this.droppedAttributes++;
      return;
    }
    keys.push(key);
    this.values.push(value);
  }

  updateName(name: string): void {
    if (!this.ended) this.name = name;
  }

  setHttpStatus(status: number): void {
    if (status >= 400) this.setError(`Code(${status}): ${STATUS_CODES[status] ?? ''}`);
  }

  recordError(err: unknown): void {
    this.setError(err instanceof Error ? err.message : String(err));
  }

  private setError(message: string): void {
    if (this.ended) return;
    this.statusCode = STATUS_ERROR;
    this.statusMessage = message;
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    const now = epochMs();
    // A back-dated start after the end (clock moved) gets a zero duration, as in the SDK.
    this.endMs = now < this.startMs ? this.startMs : now;
    this.recorder.record(this);
  }
}
