// W3C trace context as Dapr reads and writes it: `traceparent` (lenient on upper-case hex and
// future versions, strict on lengths and all-zero ids), `tracestate` (a W3C list, dropped whole
// when invalid or too long) and `baggage` (validated; the API answers 400 on an invalid one).

export interface ParsedTraceparent {
  traceId: string;
  spanId: string;
  flags: number;
}

const HEX = /^[0-9a-fA-F]+$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

// Every hop of a traced request parses one: the form the W3C spec and every SDK write
// (version 00, lower-case hex, no extra fields) is checked with one pass over its 55 characters
// and cut with two slices; anything else takes the lenient general path.
const TRACEPARENT_LENGTH = 55;

function isLowerHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102);
}

function parseCanonical(v: string): ParsedTraceparent | undefined {
  if (v.charCodeAt(0) !== 48 || v.charCodeAt(1) !== 48 || v.charCodeAt(2) !== 45 || v.charCodeAt(35) !== 45 || v.charCodeAt(52) !== 45) return undefined;
  let traceNonZero = false;
  let spanNonZero = false;
  for (let i = 3; i < 35; i++) {
    const c = v.charCodeAt(i);
    if (!isLowerHex(c)) return undefined;
    if (c !== 48) traceNonZero = true;
  }
  for (let i = 36; i < 52; i++) {
    const c = v.charCodeAt(i);
    if (!isLowerHex(c)) return undefined;
    if (c !== 48) spanNonZero = true;
  }
  const f1 = v.charCodeAt(53);
  const f2 = v.charCodeAt(54);
  if (!isLowerHex(f1) || !isLowerHex(f2) || !traceNonZero || !spanNonZero) return undefined;
  const hex = (c: number): number => (c <= 57 ? c - 48 : c - 87);
  return { traceId: v.slice(3, 35), spanId: v.slice(36, 52), flags: hex(f1) * 16 + hex(f2) };
}

/** Parses a `traceparent`; undefined when it is invalid (the caller then starts a new root). */
export function parseTraceparent(value: string | undefined): ParsedTraceparent | undefined {
  if (!value) return undefined;
  if (value.length === TRACEPARENT_LENGTH) {
    const fast = parseCanonical(value);
    if (fast) return fast;
  }
  const parts = value.trim().split('-');
  if (parts.length < 4) return undefined;
  const [version, traceId, spanId, flags] = parts as [string, string, string, string];
  if (version.length !== 2 || !HEX.test(version)) return undefined;
  const v = parseInt(version, 16);
  if (v > 0xfe) return undefined;
  if (v === 0 && parts.length !== 4) return undefined;
  if (traceId.length !== 32 || !HEX.test(traceId)) return undefined;
  if (spanId.length !== 16 || !HEX.test(spanId)) return undefined;
  if (flags.length < 2 || !HEX.test(flags)) return undefined;
  const t = traceId.toLowerCase();
  const s = spanId.toLowerCase();
  if (t === ZERO_TRACE || s === ZERO_SPAN) return undefined;
  return { traceId: t, spanId: s, flags: parseInt(flags.slice(0, 2), 16) };
}

export function formatTraceparent(traceId: string, spanId: string, flags: number): string {
  const f = flags & 0xff;
  return `00-${traceId}-${spanId}-${f === 1 ? '01' : f === 0 ? '00' : f.toString(16).padStart(2, '0')}`;
}

const TS_KEY = /^(?:[a-z0-9][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})$/;
// Printable ASCII without ',' and '=', no trailing space.
const TS_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
export const MAX_TRACESTATE_LENGTH = 512;

/** The `tracestate` to keep: the header when it is a valid W3C list, otherwise undefined. */
export function validTracestate(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const members = value.split(',');
  if (members.length > 32) return undefined;
  const keys = new Set<string>();
  let kept = 0;
  for (const raw of members) {
    const m = raw.trim();
    if (m === '') continue;
    const eq = m.indexOf('=');
    if (eq <= 0) return undefined;
    const key = m.slice(0, eq);
    if (!TS_KEY.test(key) || !TS_VALUE.test(m.slice(eq + 1)) || keys.has(key)) return undefined;
    keys.add(key);
    kept++;
  }
  if (kept === 0) return undefined;
  return value;
}

/** The `tracestate` to write onward: only when non-empty and at most 512 characters. */
export function tracestateToSend(value: string | undefined): string | undefined {
  return value && value.length <= MAX_TRACESTATE_LENGTH ? value : undefined;
}

// A simple key starts with a letter in the W3C grammar OpenTelemetry's TraceState applies when
// it records a span's tracestate (ours above also lets a digit lead, as Dapr reads the header).
const RECORDED_KEY = /^(?:[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})$/;

/**
 * The tracestate a sampled span records (OTLP Span.trace_state) for a valid incoming one, as the
 * OpenTelemetry SDK stores it: members trimmed and re-joined, empty ones left out, nothing when
 * longer than 512 characters.
 */
export function recordedTracestate(valid: string | undefined): string | undefined {
  if (!valid || valid.length > MAX_TRACESTATE_LENGTH) return undefined;
  let out = '';
  for (const raw of valid.split(',')) {
    const m = raw.trim();
    const eq = m.indexOf('=');
    if (eq <= 0 || !RECORDED_KEY.test(m.slice(0, eq))) continue;
    out = out === '' ? m : `${out},${m}`;
  }
  return out === '' ? undefined : out;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// baggage-octet: printable ASCII except space, '"', ',', ';', '\'; percent-encoding allowed.
const BAGGAGE_VALUE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;
const MAX_BAGGAGE_MEMBERS = 180;
const MAX_BAGGAGE_BYTES = 8192;

/** Checks a W3C `baggage` header; returns the reason when it is invalid, undefined when fine. */
export function baggageProblem(value: string): string | undefined {
  if (Buffer.byteLength(value) > MAX_BAGGAGE_BYTES) return `longer than ${MAX_BAGGAGE_BYTES} bytes`;
  const members = value.split(',');
  if (members.length > MAX_BAGGAGE_MEMBERS) return `more than ${MAX_BAGGAGE_MEMBERS} members`;
  for (const raw of members) {
    const [kv, ...props] = raw.split(';');
    const problem = memberProblem(kv!, false);
    if (problem) return problem;
    for (const p of props) {
      const pp = memberProblem(p, true);
      if (pp) return pp;
    }
  }
  return undefined;
}

function memberProblem(raw: string, isProperty: boolean): string | undefined {
  const m = raw.trim();
  const eq = m.indexOf('=');
  if (eq < 0) {
    if (isProperty && TOKEN.test(m)) return undefined;
    return `invalid member ${JSON.stringify(raw)}`;
  }
  const key = m.slice(0, eq).trim();
  const value = m.slice(eq + 1).trim();
  if (!TOKEN.test(key)) return `invalid key ${JSON.stringify(key)}`;
  if (!BAGGAGE_VALUE.test(value)) return `invalid value for key ${JSON.stringify(key)}`;
  if (/%(?![0-9A-Fa-f]{2})/.test(value)) return `invalid percent-encoding for key ${JSON.stringify(key)}`;
  return undefined;
}
