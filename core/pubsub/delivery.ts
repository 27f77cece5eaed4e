// Delivery of one subscription's messages to the app, with Dapr's semantics: the broker message
// is acknowledged (the handler resolves) only when the app answered success, a drop was decided,
// or the message went to the dead-letter topic; otherwise the handler rejects and the broker
// redelivers. Retries run under the component-inbound policy.
import { randomUUID } from 'node:crypto';
import type { AppCaller } from '../app.js';
import type { Logger } from '../component.js';
import type { CallPolicy } from '../policy.js';
import { binaryModeEvent, CLOUDEVENT_CONTENT_TYPE, envelopeFromRaw, isExpired, mediaType } from './cloudevent.js';
import type { ReceivedMessage } from './component.js';
import type { PubSubEntry } from './service.js';
import { findRoute, type Subscription } from './subscriptions.js';
import { childContext } from './trace.js';
import { noTelemetry, passThroughSpan, type Telemetry } from '../telemetry.js';
import { isTruthy } from '../../resources/decode.js';

/** A failed delivery attempt the policy may retry; `statusCode` is the app's, when it answered. */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(
    message: string,
    readonly statusCode?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The app's non-2xx status a failed delivery carries, for the retry policy's `matching`. */
function deliveryStatus(err: unknown): number | undefined {
  const code = err instanceof DeliveryError ? err.statusCode : undefined;
  return code !== undefined && (code < 200 || code > 299) ? code : undefined;
}

/** A message ready for the app, or the reason it will not be delivered. */
export type Prepared =
  | { ok: true; event: Record<string, unknown>; body: Buffer; path: string }
  | { ok: false; reason: string };

type Outcome = 'success' | 'drop' | 'notFound';

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const SKIP_HEADERS = new Set(['content-length', 'content-type', 'transfer-encoding', 'connection', 'host', 'pubsubname', 'traceparent', 'tracestate']);

/** True for a valid W3C traceparent whose sampled flag is off. */
function isUnsampled(traceparent: string | undefined): boolean {
  return traceparent !== undefined && traceparent.length === 55 && traceparent[2] === '-' && traceparent[52] === '-' && (parseInt(traceparent.slice(53), 16) & 1) === 0 && !traceparent.startsWith('ff');
}

/** Stands for the delivery span under an unsampled parent: records nothing, changes no header. */
const UNSAMPLED = passThroughSpan(undefined);

export class SubscriptionDelivery {
  readonly isRaw: boolean;
  private readonly batcher: Batcher | undefined;

  constructor(
    readonly sub: Subscription,
    private readonly entry: PubSubEntry,
    private readonly app: AppCaller,
    private readonly inbound: CallPolicy,
    private readonly logger: Logger,
    private readonly telemetry: Telemetry = noTelemetry,
  ) {
    this.isRaw = isTruthy(sub.metadata.rawPayload ?? Object.entries(sub.metadata).find(([k]) => k.toLowerCase() === 'rawpayload')?.[1]);
    this.batcher = sub.bulk ? new Batcher(this, sub.bulk.maxMessagesCount, sub.bulk.maxAwaitDurationMs) : undefined;
  }

  /** The broker's handler: resolve = ack, reject = redeliver. */
  readonly handle = (msg: ReceivedMessage): Promise<void> => (this.batcher ? this.batcher.add(msg) : this.deliverOne(msg));

  close(): void {
    this.batcher?.flushNow();
  }

  /**
   * Parses, checks expiry and routes; throws when the message must go back to the broker.
   * `binary` (single deliveries only, as in Dapr): a message whose broker content type is
   * application/octet-stream is a binary-mode CloudEvent, its attributes in `ce_*` metadata.
   */
  prepare(msg: ReceivedMessage, binary = true): Prepared {
    let event: Record<string, unknown>;
    let body: Buffer;
    const contentType = binary && !this.isRaw ? (msg.contentType ?? msg.metadata['content-type']) : undefined;
    if (this.isRaw) {
      event = envelopeFromRaw(msg.data, msg.topic || this.sub.topic, this.entry.name, msg.metadata);
      body = Buffer.from(JSON.stringify(event));
    } else if (contentType !== undefined && mediaType(contentType) === 'application/octet-stream') {
      event = binaryModeEvent(msg.data, contentType, msg.metadata);
      body = msg.data;
    } else {
      let parsed: unknown;
      try {
        parsed = JSON.parse(msg.data.toString('utf8'));
      } catch (err) {
        return { ok: false, reason: `message is not a CloudEvent (invalid JSON: ${(err as Error).message})` };
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, reason: 'message is not a CloudEvent (not a JSON object)' };
      event = parsed as Record<string, unknown>;
      body = msg.data;
    }
    if (isExpired(event)) return { ok: false, reason: `event ${String(event.id)} expired at ${String(event.expiration)}` };
    // An expression error is a processing error: the message goes back to the broker.
    const path = findRoute(this.sub.rules, event);
    if (!path) return { ok: false, reason: `no route matched event ${String(event.id)}` };
    return { ok: true, event, body, path };
  }

  /** Publishes the original bytes to the dead-letter topic, if one is set; false otherwise. */
  async deadLetter(msg: ReceivedMessage, why: string): Promise<boolean> {
    const dlt = this.sub.deadLetterTopic;
    if (!dlt) return false;
    await this.entry.send(dlt, msg.data, msg.contentType, { ...msg.metadata });
    this.logger.warn(`${this.label()}: message sent to dead-letter topic ${dlt}: ${why}`);
    return true;
  }

  label(): string {
    return `subscription ${this.sub.name} (${this.entry.name}/${this.sub.topic})`;
  }

  private async deliverOne(msg: ReceivedMessage): Promise<void> {
    const p = this.prepare(msg);
    if (!p.ok) {
      if (await this.deadLetter(msg, p.reason)) return;
      if (p.reason.startsWith('message is not a CloudEvent')) throw new DeliveryError(`${this.label()}: ${p.reason}`);
      this.logger.warn(`${this.label()}: dropping message: ${p.reason}`);
      return;
    }
    let outcome: Outcome;
    const started = performance.now();
    const topic = msg.topic || this.sub.topic;
    try {
      outcome = await this.inbound.run((signal) => this.post(p, msg, signal), { errorStatus: deliveryStatus });
    } catch (err) {
      this.telemetry.recordDelivery(this.entry.name, topic, 'retry', 'retry', performance.now() - started);
      if (await this.deadLetter(msg, `delivery failed: ${(err as Error).message}`)) return;
      this.logger.debug(`${this.label()}: delivery failed, the broker will redeliver: ${(err as Error).message}`);
      throw err;
    }
    // An app DROP counts as drop/success, a 404 as drop/drop, as Dapr records them.
    this.telemetry.recordDelivery(this.entry.name, topic, outcome === 'success' ? 'success' : 'drop', outcome === 'notFound' ? 'drop' : 'success', performance.now() - started);
    if (outcome === 'success') return;
    const why = outcome === 'drop' ? 'the app answered DROP' : `the app answered 404 for ${p.path}`;
    if (outcome === 'drop') this.logger.warn(`${this.label()}: event ${String(p.event.id)} dropped: ${why}`);
    else this.logger.error(`${this.label()}: event ${String(p.event.id)} dropped: ${why}`);
    await this.deadLetter(msg, why);
  }

  headers(event: Record<string, unknown>, md: Record<string, string>, contentType: string): Record<string, string> {
    const h: Record<string, string> = {};
    for (const k in md) {
      const v = md[k]!;
      if (HEADER_NAME.test(k) && !SKIP_HEADERS.has(k.toLowerCase()) && !/[\r\n\0]/.test(v)) h[k] = v;
    }
    const parent = typeof event.traceparent === 'string' ? event.traceparent : typeof event.traceid === 'string' ? event.traceid : undefined;
    const tc = childContext(parent, typeof event.tracestate === 'string' ? event.tracestate : undefined);
    h['content-type'] = contentType;
    h.pubsubname = this.entry.name;
    h.traceparent = tc.traceparent;
    if (tc.tracestate) h.tracestate = tc.tracestate;
    return h;
  }

  private async post(p: Extract<Prepared, { ok: true }>, msg: ReceivedMessage, signal: AbortSignal | undefined): Promise<Outcome> {
    const headers = this.headers(p.event, msg.metadata, CLOUDEVENT_CONTENT_TYPE);
    // The delivery span `pubsub/<topic>` continues the publisher's trace; the app sees it as parent.
    const topic = msg.topic || this.sub.topic;
    const parent = typeof p.event.traceparent === 'string' ? p.event.traceparent : typeof p.event.traceid === 'string' ? p.event.traceid : undefined;
    // Sampling is parent-based: under an unsampled parent the span would record nothing and carry
    // the same child context `headers` already made, so it is not started at all (it cost about
    // 6 % of a subscriber's CPU per message).
    const span = isUnsampled(parent) ? UNSAMPLED : this.telemetry.startSpan(`pubsub/${topic}`, 'client', { traceparent: parent, tracestate: typeof p.event.tracestate === 'string' ? p.event.tracestate : undefined });
    if (span.isRecording) {
      span.setAttribute('messaging.system', 'pubsub');
      span.setAttribute('messaging.destination.name', topic);
    }
    if (span.traceparent && span.traceparent !== parent) {
      headers.traceparent = span.traceparent;
      if (span.tracestate) headers.tracestate = span.tracestate;
      else delete headers.tracestate;
    }
    let res;
    try {
      res = await this.app.callText({
        method: 'POST',
        path: p.path,
        headers,
        body: p.body,
        ...(signal ? { signal } : {}),
      });
      span.setHttpStatus(res.statusCode);
    } catch (err) {
      span.recordError(err);
      throw new DeliveryError(`error delivering to app at ${p.path}: ${(err as Error).message}`, undefined, { cause: err });
    } finally {
      span.end();
    }
    const text = res.text;
    if (res.statusCode === 404) return 'notFound';
    if (res.statusCode < 200 || res.statusCode > 299) {
      throw new DeliveryError(`app answered ${res.statusCode} for ${p.path}`, res.statusCode);
    }
    // The common answer: no body. Not handed to JSON.parse, whose SyntaxError costs more than the rest.
    if (text === '' || text.trimStart().charCodeAt(0) !== 123 /* { */) return 'success';
    let status = '';
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { status?: unknown }).status === 'string') status = (parsed as { status: string }).status;
    } catch {
      return 'success';
    }
    if (status === '' || status === 'SUCCESS') return 'success';
    if (status === 'DROP') return 'drop';
    if (status === 'RETRY') throw new DeliveryError(`app asked to retry event ${String(p.event.id)}`, res.statusCode);
    throw new DeliveryError(`app answered unknown status ${JSON.stringify(status)} for event ${String(p.event.id)}`, res.statusCode);
  }

  /** Bulk delivery of one batch that shares a path; each pending entry is settled exactly once. */
  async postBulk(path: string, batch: PendingEntry[]): Promise<void> {
    let remaining = batch;
    try {
      await this.inbound.run(async (signal) => {
        const results = await this.postBulkOnce(path, remaining, signal);
        const retry: PendingEntry[] = [];
        for (const e of remaining) {
          const r = results.get(e.entryId) ?? 'retry';
          if (r === 'retry') retry.push(e);
          else void this.settle(e, r);
        }
        remaining = retry;
        if (retry.length > 0) throw new DeliveryError(`${retry.length} of the batch's entries must be retried`);
      });
    } catch (err) {
      for (const e of remaining) {
        this.deadLetter(e.msg, `bulk delivery failed: ${(err as Error).message}`).then(
          (sent) => (sent ? e.resolve() : e.reject(err)),
          (dlqErr: unknown) => e.reject(dlqErr),
        );
      }
    }
  }

  private async settle(e: PendingEntry, r: 'success' | 'drop'): Promise<void> {
    if (r === 'success') return e.resolve();
    try {
      await this.deadLetter(e.msg, 'dropped by the app in a bulk delivery');
      e.resolve();
    } catch (err) {
      e.reject(err);
    }
  }

  private async postBulkOnce(path: string, entries: PendingEntry[], signal: AbortSignal | undefined): Promise<Map<string, 'success' | 'drop' | 'retry'>> {
    const body = {
      id: randomUUID(),
      type: 'com.dapr.event.sent.bulk',
      topic: this.sub.topic,
      pubsubname: this.entry.name,
      metadata: { pubsubName: this.entry.name },
      entries: entries.map((e) => ({
        entryId: e.entryId,
        event: this.isRaw ? e.msg.data.toString('base64') : e.event,
        metadata: e.msg.metadata,
        contentType: this.isRaw ? 'application/octet-stream' : CLOUDEVENT_CONTENT_TYPE,
      })),
    };
    let res;
    try {
      res = await this.app.call({
        method: 'POST',
        path,
        headers: this.headers(entries[0]!.event, {}, 'application/json'),
        body: JSON.stringify(body),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      throw new DeliveryError(`error delivering a batch to app at ${path}: ${(err as Error).message}`, undefined, { cause: err });
    }
    const text = await res.body.text();
    const out = new Map<string, 'success' | 'drop' | 'retry'>();
    if (res.statusCode === 404) {
      this.logger.error(`${this.label()}: the app answered 404 for ${path}; dropping ${entries.length} events`);
      for (const e of entries) out.set(e.entryId, 'drop');
      return out;
    }
    if (res.statusCode < 200 || res.statusCode > 299) throw new DeliveryError(`app answered ${res.statusCode} for ${path}`, res.statusCode);
    let statuses: unknown;
    try {
      statuses = (JSON.parse(text) as { statuses?: unknown }).statuses;
    } catch {
      statuses = undefined;
    }
    if (Array.isArray(statuses)) {
      for (const s of statuses) {
        if (typeof s !== 'object' || s === null) continue;
        const { entryId, status } = s as { entryId?: unknown; status?: unknown };
        if (typeof entryId !== 'string') continue;
        out.set(entryId, status === 'SUCCESS' ? 'success' : status === 'DROP' ? 'drop' : 'retry');
      }
    }
    return out;
  }
}

export interface PendingEntry {
  entryId: string;
  msg: ReceivedMessage;
  event: Record<string, unknown>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Collects messages until maxMessagesCount or maxAwaitDurationMs, then delivers them per path. */
class Batcher {
  private pending: Array<PendingEntry & { path: string }> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly d: SubscriptionDelivery,
    private readonly maxCount: number,
    private readonly maxAwaitMs: number,
  ) {}

  async add(msg: ReceivedMessage): Promise<void> {
    // Dapr's bulk delivery has no binary mode: every message is parsed as a JSON CloudEvent.
    const p = this.d.prepare(msg, false);
    if (!p.ok) {
      if (await this.d.deadLetter(msg, p.reason)) return;
      if (p.reason.startsWith('message is not a CloudEvent')) throw new DeliveryError(`${this.d.label()}: ${p.reason}`);
      return;
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ entryId: randomUUID(), msg, event: p.event, path: p.path, resolve, reject });
      if (this.pending.length >= this.maxCount) this.flushNow();
      else this.timer ??= setTimeout(() => this.flushNow(), this.maxAwaitMs);
    });
  }

  flushNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const byPath = new Map<string, PendingEntry[]>();
    for (const e of batch) {
      const list = byPath.get(e.path);
      if (list) list.push(e);
      else byPath.set(e.path, [e]);
    }
    for (const [path, entries] of byPath) void this.d.postBulk(path, entries);
  }
}
