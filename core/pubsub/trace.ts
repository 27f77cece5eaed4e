// W3C trace context for pub/sub: the publish request's context (the API span's, once the trace
// layer has replaced the app's headers) travels inside the CloudEvent, and each delivery to the
// app carries a child of the event's traceparent.
// TODO(#8): open a span per delivery to the app through the telemetry interface.
import { randomBytes } from 'node:crypto';
import type { TraceContext } from './cloudevent.js';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

function spanId(): string {
  let id = randomBytes(8).toString('hex');
  while (id === '0000000000000000') id = randomBytes(8).toString('hex');
  return id;
}

/** `traceparent` itself when valid (the API span's context), else a fresh trace. */
export function currentContext(traceparent: string | undefined, tracestate: string | undefined): TraceContext {
  const m = traceparent ? TRACEPARENT.exec(traceparent.trim().toLowerCase()) : null;
  if (m && m[1] !== 'ff' && !/^0+$/.test(m[2]!) && !/^0+$/.test(m[3]!)) return { traceparent: traceparent!.trim().toLowerCase(), tracestate: tracestate ?? '' };
  return childContext(undefined, undefined);
}

/** A child context of `parent` (a traceparent header value), or a fresh trace when invalid. */
export function childContext(parent: string | undefined, tracestate: string | undefined): TraceContext {
  const m = parent ? TRACEPARENT.exec(parent.trim().toLowerCase()) : null;
  if (m && m[1] !== 'ff' && !/^0+$/.test(m[2]!) && !/^0+$/.test(m[3]!)) {
    return { traceparent: `00-${m[2]}-${spanId()}-${m[4]}`, tracestate: tracestate ?? '' };
  }
  return { traceparent: `00-${randomBytes(16).toString('hex')}-${spanId()}-01`, tracestate: '' };
}
