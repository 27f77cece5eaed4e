// W3C trace context for pub/sub: the publish gets a child of the caller's context (or a new
// trace), its traceparent travels inside the CloudEvent, and each delivery to the app is a
// child of the event's traceparent.
// TODO(#8): use telemetry/tracing spans once they exist; until then only ids are propagated.
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
