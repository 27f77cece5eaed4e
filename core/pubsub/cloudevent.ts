// CloudEvents 1.0 envelopes the way Dapr builds them on publish (components-contrib
// pubsub/envelope.go), and the synthetic envelope a raw-payload subscriber receives.
import { randomUUID } from 'node:crypto';
import { DaprError } from '../errors.js';

export const CLOUDEVENT_CONTENT_TYPE = 'application/cloudevents+json';
export const EVENT_TYPE = 'com.dapr.event.sent';
const NO_METADATA: Readonly<Record<string, string>> = Object.freeze({});

export interface TraceContext {
  traceparent: string;
  tracestate: string;
}

export interface EnvelopeInput {
  appId: string;
  pubsubName: string;
  topic: string;
  body: Buffer;
  /** The request's Content-Type header, if any. */
  contentType: string | undefined;
  trace: TraceContext;
  /** Request metadata: `cloudevent.*` overrides and ttlInSeconds are read from it. */
  metadata: Readonly<Record<string, string>>;
  /** Whether the broker enforces TTL itself (then no `expiration` is written). */
  brokerHasTtl: boolean;
  now?: Date;
}

/** The media type without parameters, lower-cased. */
export function mediaType(contentType: string | undefined): string {
  if (!contentType) return '';
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

export function isCloudEventContentType(contentType: string | undefined): boolean {
  return mediaType(contentType) === CLOUDEVENT_CONTENT_TYPE;
}

/** RFC 3339 with second precision, as Go's time.RFC3339 prints UTC. */
function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// Every event of one second carries the same `time`: formatted once per second, not per publish.
let cachedSecond = NaN;
let cachedTime = '';
function rfc3339Now(d: Date): string {
  const second = Math.floor(d.getTime() / 1000);
  if (second !== cachedSecond) {
    cachedTime = rfc3339(d);
    cachedSecond = second;
  }
  return cachedTime;
}

/** Whether any key starts with `cloudevent.` (any case): most publishes carry none. */
function hasOverrides(md: Readonly<Record<string, string>>): boolean {
  for (const k in md) if (k.length > 11 && k.slice(0, 11).toLowerCase() === 'cloudevent.') return true;
  return false;
}

function lookup(md: Readonly<Record<string, string>>, key: string): string | undefined {
  const lower = key.toLowerCase();
  for (const k in md) if (k.toLowerCase() === lower) return md[k];
  return undefined;
}

/** `metadata.ttlInSeconds` (or `ttl`, Go duration or seconds) in seconds; undefined when absent. */
export function ttlSeconds(md: Readonly<Record<string, string>>): number | undefined {
  const v = lookup(md, 'ttlInSeconds');
  if (v !== undefined && v !== '') {
    if (!/^-?\d+$/.test(v.trim())) throw new DaprError('pubsubCloudEventCreation', `error when publishing: ttlInSeconds: value must be a valid integer: actual is '${v}'`);
    const n = Number(v.trim());
    return n > 0 ? n : undefined;
  }
  return undefined;
}

/**
 * Serializes the envelope for the broker. JSON bodies are spliced in verbatim (after checking
 * they parse) so large numbers keep their precision.
 */
export function buildEnvelope(input: EnvelopeInput): Buffer {
  const now = input.now ?? new Date();
  const ttl = ttlSeconds(input.metadata);
  const expiration = ttl !== undefined && !input.brokerHasTtl ? rfc3339(new Date(now.getTime() + ttl * 1000)) : undefined;
  const md = hasOverrides(input.metadata) ? input.metadata : NO_METADATA;
  const traceparent = lookup(md, 'cloudevent.traceparent') ?? lookup(md, 'cloudevent.traceid') ?? input.trace.traceparent;
  const tracestate = lookup(md, 'cloudevent.tracestate') ?? input.trace.tracestate;

  if (isCloudEventContentType(input.contentType)) {
    let ce: unknown;
    try {
      ce = JSON.parse(input.body.toString('utf8'));
    } catch (err) {
      throw new DaprError('pubsubCloudEventCreation', `cannot create cloudevent: ${(err as Error).message}`, { cause: err });
    }
    if (typeof ce !== 'object' || ce === null || Array.isArray(ce)) {
      throw new DaprError('pubsubCloudEventCreation', 'cannot create cloudevent: the body is not a JSON object');
    }
    const obj = ce as Record<string, unknown>;
    obj.traceid = input.trace.traceparent;
    obj.traceparent = input.trace.traceparent;
    obj.tracestate = input.trace.tracestate;
    obj.topic = input.topic;
    obj.pubsubname = input.pubsubName;
    obj.time ??= rfc3339Now(now);
    obj.source ??= 'Dapr';
    obj.type ??= EVENT_TYPE;
    obj.specversion ??= '1.0';
    if (expiration) obj.expiration = expiration;
    return Buffer.from(JSON.stringify(obj));
  }

  const contentType = input.contentType || 'text/plain';
  const fields: Record<string, unknown> = {
    id: lookup(md, 'cloudevent.id') ?? randomUUID(),
    source: lookup(md, 'cloudevent.source') ?? (input.appId || 'Dapr'),
    type: lookup(md, 'cloudevent.type') ?? EVENT_TYPE,
    specversion: '1.0',
    datacontenttype: contentType,
    topic: input.topic,
    pubsubname: input.pubsubName,
    traceid: traceparent,
    traceparent,
    tracestate,
    time: rfc3339Now(now),
  };
  const subject = lookup(md, 'cloudevent.subject');
  if (subject !== undefined) fields.subject = subject;
  if (expiration) fields.expiration = expiration;
  const head = JSON.stringify(fields).slice(0, -1);
  const mt = mediaType(contentType);
  if (mt === 'application/octet-stream') {
    return Buffer.from(`${head},"data_base64":${JSON.stringify(input.body.toString('base64'))}}`);
  }
  const text = input.body.toString('utf8');
  if (mt === 'application/json' && text.trim() !== '') {
    try {
      JSON.parse(text);
      return Buffer.from(`${head},"data":${text}}`);
    } catch {
      // Not JSON after all: embedded as a string, as Dapr does.
    }
  }
  return Buffer.from(`${head},"data":${JSON.stringify(text)}}`);
}

/** The envelope a raw-payload subscription hands to the app (components-contrib FromRawPayload). */
export function envelopeFromRaw(data: Buffer, topic: string, pubsubName: string, metadata: Readonly<Record<string, string>>): Record<string, unknown> {
  const ce: Record<string, unknown> = {
    id: randomUUID(),
    specversion: '1.0',
    datacontenttype: 'application/octet-stream',
    source: 'Dapr',
    type: EVENT_TYPE,
    topic,
    pubsubname: pubsubName,
    data_base64: data.toString('base64'),
  };
  const tp = lookup(metadata, 'traceparent') ?? lookup(metadata, 'traceid');
  if (tp) {
    ce.traceid = tp;
    ce.traceparent = tp;
  }
  const ts = lookup(metadata, 'tracestate');
  if (ts) ce.tracestate = ts;
  return ce;
}

/**
 * The event of a binary-mode message (Dapr's subscriber: broker content type
 * application/octet-stream): attributes from the `ce_*` metadata entries (prefix cut, any case),
 * `data` the message bytes, `datacontenttype` the broker's content type. Used for routing and
 * expiry; the app receives the bytes themselves.
 */
export function binaryModeEvent(data: Buffer, contentType: string, metadata: Readonly<Record<string, string>>): Record<string, unknown> {
  const event: Record<string, unknown> = {};
  for (const k in metadata) {
    if (k.length > 3 && k.slice(0, 3).toLowerCase() === 'ce_') event[k.slice(3).toLowerCase()] = metadata[k];
  }
  event.data = data;
  event.datacontenttype = contentType;
  return event;
}

/** True when the event carries an `expiration` that has passed. */
export function isExpired(event: Record<string, unknown>, now = Date.now()): boolean {
  const exp = event.expiration;
  if (typeof exp !== 'string' || exp === '') return false;
  const t = Date.parse(exp);
  return Number.isFinite(t) && t < now;
}
