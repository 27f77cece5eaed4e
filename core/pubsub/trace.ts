// W3C trace ids for pub/sub when no span is recorded: a child of the caller's context (or a new
// trace) for the CloudEvent, and a child of the event's context for deliveries. With tracing on,
// the telemetry spans (routes.ts, delivery.ts) take their place.
import { randomFillSync } from 'node:crypto';
import type { TraceContext } from './cloudevent.js';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

// Ids come from a pool refilled 4 KiB at a time: one call into the CSPRNG per 256 span ids
// instead of one per delivery.
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const hex = pool.toString('hex', poolAt, poolAt + bytes);
  poolAt += bytes;
  return hex;
}

function spanId(): string {
  let id = randomHex(8);
  while (id === '0000000000000000') id = randomHex(8);
  return id;
}

/** A child context of `parent` (a traceparent header value), or a fresh trace when invalid. */
export function childContext(parent: string | undefined, tracestate: string | undefined): TraceContext {
  const m = parent ? TRACEPARENT.exec(parent.trim().toLowerCase()) : null;
  if (m && m[1] !== 'ff' && !/^0+$/.test(m[2]!) && !/^0+$/.test(m[3]!)) {
    return { traceparent: `00-${m[2]}-${spanId()}-${m[4]}`, tracestate: tracestate ?? '' };
  }
  return { traceparent: `00-${randomHex(16)}-${spanId()}-01`, tracestate: '' };
}
