// W3C trace ids for pub/sub when no span is recorded: a child of the caller's context (or a new
// trace) for the CloudEvent, and a child of the event's context for deliveries. With tracing on,
// the telemetry spans (routes.ts, delivery.ts) take their place.
import { randomBytes } from 'node:crypto';
import type { TraceContext } from './cloudevent.js';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

function spanId(): string {
  let id = randomBytes(8).toString('hex');
  while (id === '0000000000000000') id = randomBytes(8).toString('hex');
  return id;
}

/** A child context of `parent` (a traceparent header value), or a fresh trace when invalid. */
export function childContext(parent: string | undefined, tracestate: string | undefined): TraceContext {
  const m = parent ? TRACEPARENT.exec(parent.trim().toLowerCase()) : null;
  if (m && m[1] !== 'ff' && !/^0+$/.test(m[2]!) && !/^0+$/.test(m[3]!)) {
    return { traceparent: `00-${m[2]}-${spanId()}-${m[4]}`, tracestate: tracestate ?? '' };
  }
  return { traceparent: `00-${randomBytes(16).toString('hex')}-${spanId()}-01`, tracestate: '' };
}
