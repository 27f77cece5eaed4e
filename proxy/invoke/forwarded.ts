// One forwarded request on undici's low-level dispatch interface, for the proxy paths
// (invocation, fronting, the callee's app channel). undici's `request()` wraps every answer in
// a Readable body, a promise per stage and abort-signal plumbing; the proxy only needs the
// status to judge the answer, then the bytes copied into our ServerResponse. Here the handler is
// the answer: `head` resolves with the status, `relayTo` copies the body into the response as
// chunks arrive (pausing the upstream socket while ours is full), and `dump` drops it (an answer
// the resiliency policy discards) so the connection returns to its pool.
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from '../undici.js';
import { copyResponseHeaders } from './headers.js';

/** More than this of a dropped answer: the connection is closed rather than drained. */
const DUMP_LIMIT = 128 * 1024;
/** Bytes of an answer kept before its consumer attaches, beyond which reading pauses. */
const QUEUE_LIMIT = 64 * 1024;

type Headers = Record<string, string | string[] | undefined>;

/** Where a forwarded exchange records dapr_http_client_* (the app channel's metrics). */
export interface ForwardMetrics {
  recordHttpClient(method: string | undefined, path: string, status: number, elapsedMs: number, sentBytes: number, receivedBytes: number): void;
}

export class Forwarded implements Dispatcher.DispatchHandler {
  statusCode = 0;
  private rawHeaders: Buffer[] | null = null;
  private parsed: Headers | null = null;
  private abortFn: ((err?: Error) => void) | null = null;
  private resumeFn: (() => void) | null = null;
  /** Chunks that arrived before a consumer attached. */
  private queued: Buffer[] | null = null;
  private queuedBytes = 0;
  private sink: ServerResponse | null = null;
  private dumping = false;
  /** `collect` reads the whole answer: queue it all, never pause. */
  private collecting = false;
  private dumped = 0;
  private complete = false;
  private failure: Error | null = null;
  private settleHead: ((self: Forwarded) => void) | null = null;
  private failHead: ((err: Error) => void) | null = null;
  private settleBody: (() => void) | null = null;
  private failBody: ((err: Error) => void) | null = null;
  /** Called once when the exchange with the upstream is over, whatever the outcome. */
  onSettled: (() => void) | null = null;
  private metrics: ForwardMetrics | null = null;
  private method: string | undefined = undefined;
  private path = '';
  private sentBytes = 0;
  private started = 0;
  /** The answer's status and headers have arrived (rejects when the request fails before that). */
  readonly head: Promise<Forwarded>;

  constructor(signal?: AbortSignal) {
    this.head = new Promise((resolve, reject) => {
      this.settleHead = resolve;
      this.failHead = reject;
    });
    if (signal) {
      if (signal.aborted) this.abort(signal.reason as Error);
      else signal.addEventListener('abort', () => this.abort(signal.reason as Error), { once: true });
    }
  }

  /** The answer's headers, lower-cased names, repeated ones as arrays. */
  get headers(): Headers {
    if (this.parsed) return this.parsed;
    const out: Headers = {};
    const raw = this.rawHeaders ?? [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const k = raw[i]!.toString('latin1').toLowerCase();
      const v = raw[i + 1]!.toString('latin1');
      const prev = out[k];
      out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    this.parsed = out;
    return out;
  }

  /** The answer's Content-Length (0 when absent or invalid), without building `headers`. */
  get contentLength(): number {
    if (this.parsed) return Number(this.parsed['content-length'] ?? 0) || 0;
    const raw = this.rawHeaders ?? [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const k = raw[i]!;
      if (k.length === 14 && k.toString('latin1').toLowerCase() === 'content-length') return Number(raw[i + 1]!.toString('latin1')) || 0;
    }
    return 0;
  }

  /**
   * Records dapr_http_client_* when the answer's head arrives (or 500 when the request fails
   * before it): no wrapper promise per request.
   */
  measure(metrics: ForwardMetrics, method: string | undefined, path: string, sentBytes: number): void {
    this.metrics = metrics;
    this.method = method;
    this.path = path;
    this.sentBytes = sentBytes;
    this.started = performance.now();
  }

  abort(err?: Error): void {
    const why = err ?? new Error('aborted');
    if (this.abortFn) this.abortFn(why);
    else this.failure ??= why;
  }

  // --- undici's handler interface -------------------------------------------------------

  onConnect(abort: (err?: Error) => void): void {
    this.abortFn = abort;
    if (this.failure) abort(this.failure);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 1xx interim answers are not relayed
    this.statusCode = statusCode;
    this.rawHeaders = rawHeaders;
    this.resumeFn = resume;
    this.metrics?.recordHttpClient(this.method, this.path, statusCode, performance.now() - this.started, this.sentBytes, this.contentLength);
    const settle = this.settleHead;
    this.settleHead = this.failHead = null;
    settle?.(this);
    return true;
  }

  onData(chunk: Buffer): boolean {
    const sink = this.sink;
    if (sink) {
      if (sink.write(chunk)) return true;
      sink.once('drain', this.resume);
      return false;
    }
    if (this.dumping) {
      this.dumped += chunk.length;
      if (this.dumped > DUMP_LIMIT) this.abort(new Error('dropped answer too large to drain'));
      return true;
    }
    // No consumer yet (the head promise has not been taken up): keep what the same read
    // brought, so a small answer is complete before it is relayed and goes out in one write;
    // past a bound, stop reading until a consumer comes (unless the consumer wants it all).
    (this.queued ??= []).push(chunk);
    this.queuedBytes += chunk.length;
    return this.collecting || this.queuedBytes < QUEUE_LIMIT;
  }

  onComplete(): void {
    this.complete = true;
    this.settled();
    this.finish();
  }

  onError(err: Error): void {
    this.failure = err;
    this.settled();
    if (this.failHead) {
      // A transport failure before the answer is recorded as 500, as Dapr does.
      this.metrics?.recordHttpClient(this.method, this.path, 500, performance.now() - this.started, this.sentBytes, 0);
      const fail = this.failHead;
      this.settleHead = this.failHead = null;
      fail(err);
      return;
    }
    const { settleBody, failBody } = this;
    this.settleBody = this.failBody = null;
    if (this.sink) this.sink.off('close', this.onSinkClose);
    // A dropped answer that fails is dropped all the same.
    if (this.dumping) settleBody?.();
    else failBody?.(err);
  }

  // --- consumers ------------------------------------------------------------------------

  /**
   * Writes status, headers (minus hop-by-hop ones) and body into `res`. Resolves when the last
   * byte is handed to the socket, or quietly when the client went away first (the upstream
   * request is then aborted, which drops its connection); rejects when the upstream body fails.
   */
  relayTo(res: ServerResponse, isEventStream: boolean): Promise<void> {
    res.statusCode = this.statusCode;
    const headers = this.headers;
    copyResponseHeaders(res, headers);
    // Server-sent events: the caller should see the headers now, not with the first event.
    if (isEventStream || String(headers['content-type'] ?? '').startsWith('text/event-stream')) res.flushHeaders();
    if (this.failure) return Promise.reject(this.failure);
    const chunks = this.queued;
    this.queued = null;
    if (this.complete) {
      // All of it is here: one write with the head.
      const last = chunks?.pop();
      if (chunks) for (const c of chunks) res.write(c);
      res.end(last);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.settleBody = resolve;
      this.failBody = reject;
      this.sink = res;
      res.once('close', this.onSinkClose);
      let full = false;
      if (chunks) for (const c of chunks) full = !res.write(c) || full;
      if (full) res.once('drain', this.resume);
      else this.resume();
    });
  }

  /** Reads the whole answer into memory (the gRPC API's InvokeService answers in one message). */
  collect(): Promise<Buffer> {
    if (this.complete) return Promise.resolve(Buffer.concat(this.queued ?? []));
    if (this.failure) return Promise.reject(this.failure);
    this.collecting = true;
    return new Promise((resolve, reject) => {
      this.settleBody = () => resolve(Buffer.concat(this.queued ?? []));
      this.failBody = reject;
      this.resume();
    });
  }

  /** Drops the answer; the connection is reused once it is read to the end. */
  dump(): Promise<void> {
    this.queued = null;
    if (this.complete || this.failure) return Promise.resolve();
    this.dumping = true;
    return new Promise((resolve) => {
      this.settleBody = resolve;
      this.resume();
    });
  }

  private settled(): void {
    const fn = this.onSettled;
    this.onSettled = null;
    fn?.();
  }

  private readonly resume = (): void => {
    // The parser serves the connection's next request once this one is over: leave it alone.
    if (!this.complete && !this.failure) this.resumeFn?.();
  };

  private finish(): void {
    const sink = this.sink;
    const settle = this.settleBody;
    this.settleBody = this.failBody = null;
    if (sink) {
      sink.off('close', this.onSinkClose);
      sink.off('drain', this.resume);
      sink.end();
    }
    settle?.();
  }

  private readonly onSinkClose = (): void => {
    // Our client left before the answer was complete.
    if (this.complete) return;
    this.sink = null;
    const settle = this.settleBody;
    this.settleBody = this.failBody = null;
    this.abort(new Error('the caller went away'));
    settle?.();
  };
}
