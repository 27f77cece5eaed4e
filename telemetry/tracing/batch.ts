// One exporter's queue of ended spans. A span is handed to the batch's format when it ends (the
// OTLP protobuf format encodes it there and then); a batch is sent when it holds 1024 spans or a
// second after its first span, one send at a time. At most 8192 spans wait: beyond that they are
// dropped and counted, so a slow or dead receiver never holds up or grows the request path.
// Shutdown sends what is queued.
import type { RecordedSpan, SpanRecorder } from './recorded-span.js';

/** How one exporter keeps a batch until it is sent. */
export interface BatchFormat<P> {
  /** Adds one ended span to the open batch. */
  append(span: RecordedSpan): void;
  /** The open batch's payload; the format starts a new batch. */
  take(): P;
}

/** Sends one batch; rejects with the reason when the receiver did not take it. */
export type SendBatch<P> = (payload: P, spans: number) => Promise<void>;

export interface BatchLimits {
  maxQueueSize: number;
  maxBatchSize: number;
  delayMs: number;
}

export const BATCH_LIMITS: BatchLimits = { maxQueueSize: 8192, maxBatchSize: 1024, delayMs: 1000 };

export class SpanBatch<P> implements SpanRecorder {
  /** Spans in the open batch. */
  private open = 0;
  /** Spans in the open batch and in sealed batches not yet sent. */
  private queued = 0;
  private dropped = 0;
  private readonly sealed: Array<{ payload: P; spans: number }> = [];
  private sending: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.seal();
  };

  constructor(
    private readonly format: BatchFormat<P>,
    private readonly send: SendBatch<P>,
    /** Reports an export problem; false when the line was held back (rate limit). */
    private readonly report: (message: string, fields?: Record<string, unknown>) => boolean,
    private readonly limits: BatchLimits = BATCH_LIMITS,
    /** Called after shutdown has sent what was queued (closes connections). */
    private readonly close: () => Promise<void> = async () => undefined,
  ) {}

  record(span: RecordedSpan): void {
    if (this.closed) return;
    if (this.queued >= this.limits.maxQueueSize) {
      this.dropped++;
      return;
    }
    this.format.append(span);
    this.queued++;
    if (++this.open >= this.limits.maxBatchSize) this.seal();
    else if (this.timer === undefined) this.timer = setTimeout(this.onTimer, this.limits.delayMs).unref();
  }

  /** Closes the open batch (if it has spans) and starts sending. */
  private seal(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.open > 0) {
      this.sealed.push({ payload: this.format.take(), spans: this.open });
      this.open = 0;
    }
    this.pump();
  }

  private pump(): void {
    // Counted until a report line goes out, so the count survives the rate limit.
    if (this.dropped > 0 && this.report(`span export queue full (${this.limits.maxQueueSize} spans): spans dropped`, { dropped: this.dropped })) this.dropped = 0;
    if (this.sending || this.sealed.length === 0) return;
    const batch = this.sealed.shift()!;
    this.queued -= batch.spans;
    this.sending = this.send(batch.payload, batch.spans).then(
      () => undefined,
      (err: unknown) => void this.report(err instanceof Error ? err.message : String(err)),
    );
    void this.sending.then(() => {
      this.sending = undefined;
      this.pump();
    });
  }

  /** Sends what is queued (each send bounded by its exporter's timeout), then closes. */
  async shutdown(): Promise<void> {
    this.seal();
    this.closed = true;
    // Each finished send starts the next one before this loop looks again.
    while (this.sending) await this.sending;
    await this.close();
  }
}
