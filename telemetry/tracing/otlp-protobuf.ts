// OTLP trace export requests in protobuf, written by hand: each span is encoded when it ends,
// straight into its batch's buffer, and the request around the batch (one resource, one scope)
// is added when the batch is sent. Field numbers and wire types are those of opentelemetry-proto
// (collector/trace/v1/trace_service.proto, trace/v1/trace.proto, common/v1/common.proto,
// resource/v1/resource.proto). Fields are written in the order, and with the explicit zero
// counts, that OpenTelemetry's own serializer uses, so the bytes are the same
// (test/unit/trace-export.test.ts compares them).
import type { AttributeValue, SpanKind } from '../../core/telemetry.js';
import type { RecordedSpan } from './recorded-span.js';

const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;

/** OTLP Span.SpanKind numbers. */
const KIND: Record<SpanKind, number> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };

/** Span.flags: the W3C sampled bit, plus "is remote known" (0x100) and "parent is remote" (0x200). */
const FLAG_SAMPLED = 0x01;
const FLAG_HAS_IS_REMOTE = 0x100;
const FLAG_IS_REMOTE = 0x200;

const TWO_32 = 0x1_0000_0000;

function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Hex digit values by character code (ids are lower-case hex, checked where they were read). */
const NIBBLE = new Uint8Array(128);
for (let i = 0; i < 16; i++) NIBBLE['0123456789abcdef'.charCodeAt(i)] = i;

/** A growing buffer with the few protobuf encodings a trace request needs. */
export class ProtoWriter {
  buf: Buffer;
  pos = 0;

  constructor(initialSize = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const bigger = Buffer.allocUnsafe(size);
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /** A non-negative integer up to 2^53, or a negative one as 64-bit two's complement (10 bytes). */
  varint(v: number): void {
    this.room(10);
    const buf = this.buf;
    if (v >= 0 && v < TWO_32) {
      while (v >= 0x80) {
        buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[this.pos++] = v;
      return;
    }
    let lo: number;
    let hi: number;
    if (v >= 0) {
      lo = v >>> 0;
      hi = Math.floor(v / TWO_32) >>> 0;
    } else {
      const a = -v;
      lo = ~(a >>> 0) >>> 0;
      hi = ~(Math.floor(a / TWO_32) >>> 0) >>> 0;
      lo = (lo + 1) >>> 0;
      if (lo === 0) hi = (hi + 1) >>> 0;
    }
    while (hi !== 0 || lo >= 0x80) {
      buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[this.pos++] = lo;
  }

  // Byte by byte: Buffer's write methods cost a bounds-checked call each, several times this.
  fixed32(v: number): void {
    this.room(4);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = v & 0xff;
    buf[p++] = (v >>> 8) & 0xff;
    buf[p++] = (v >>> 16) & 0xff;
    buf[p++] = (v >>> 24) & 0xff;
    this.pos = p;
  }

  fixed64(lo: number, hi: number): void {
    this.fixed32(lo);
    this.fixed32(hi);
  }

  double(v: number): void {
    this.room(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** Epoch milliseconds as fixed64 nanoseconds, converted as the SDK's millisToHrTime does. */
  time(ms: number): void {
    const seconds = Math.trunc(ms / 1000);
    const nanos = Math.round((ms % 1000) * 1e6);
    // seconds * 1e9 + nanos overflows a double's exact range: split seconds at 16 bits so each
    // product stays exact, then add the two halves as 32-bit words.
    const low = (seconds % 0x10000) * 1e9 + nanos;
    const high = Math.floor(seconds / 0x10000) * 1e9; // to be multiplied by 2^16
    let lo = (low % TWO_32) + (high % 0x10000) * 0x10000;
    let hi = Math.floor(low / TWO_32) + Math.floor(high / 0x10000);
    if (lo >= TWO_32) {
      lo -= TWO_32;
      hi++;
    }
    this.fixed64(lo, hi);
  }

  string(s: string): void {
    const n = s.length;
    const start = this.pos;
    // ASCII (nearly every name and attribute) is copied in one pass, which also checks it.
    this.varint(n);
    this.room(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) {
        this.pos = start;
        const bytes = Buffer.byteLength(s, 'utf8');
        this.varint(bytes);
        this.room(bytes);
        this.pos += this.buf.write(s, this.pos, bytes, 'utf8');
        return;
      }
      buf[p++] = c;
    }
    this.pos = p;
  }

  /** Lower-case hex id as a bytes field (trace id 16 bytes, span id 8). */
  hexBytes(hex: string): void {
    const n = hex.length >>> 1;
    this.varint(n);
    this.room(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < hex.length; i += 2) buf[p++] = (NIBBLE[hex.charCodeAt(i) & 0x7f]! << 4) | NIBBLE[hex.charCodeAt(i + 1) & 0x7f]!;
    this.pos = p;
  }

  /** Bytes already encoded, copied as they are. */
  raw(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Starts a length-delimited field's content; one length byte is reserved (most fit in one). */
  begin(): number {
    this.room(1);
    return this.pos++;
  }

  /** Ends what begin() started: writes its length, moving the content when it needs more bytes. */
  end(mark: number): void {
    const len = this.pos - mark - 1;
    if (len < 0x80) {
      this.buf[mark] = len;
      return;
    }
    const extra = varintSize(len) - 1;
    this.room(extra);
    this.buf.copyWithin(mark + 1 + extra, mark + 1, this.pos);
    const end = this.pos + extra;
    this.pos = mark;
    this.varint(len);
    this.pos = end;
  }

  /** A copy of what was written; the writer starts over. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.pos));
    this.pos = 0;
    return out;
  }
}

function writeAnyValue(w: ProtoWriter, v: AttributeValue): void {
  if (typeof v === 'string') {
    w.tag(1, LEN);
    w.string(v);
  } else if (typeof v === 'boolean') {
    w.tag(2, VARINT);
    w.varint(v ? 1 : 0);
  } else if (Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 63) {
    w.tag(3, VARINT);
    w.varint(v);
  } else {
    w.tag(4, FIXED64);
    w.double(v);
  }
}

/** Repeated KeyValue `field` (Span 9, Resource 1). */
function writeAttributes(w: ProtoWriter, field: number, keys: readonly string[], values: readonly AttributeValue[]): void {
  for (let i = 0; i < keys.length; i++) {
    w.tag(field, LEN);
    const kv = w.begin();
    w.tag(1, LEN);
    w.string(keys[i]!);
    w.tag(2, LEN);
    const any = w.begin();
    writeAnyValue(w, values[i]!);
    w.end(any);
    w.end(kv);
  }
}

/** One Span message's content (trace.proto Span). */
export function writeSpan(w: ProtoWriter, s: RecordedSpan): void {
  w.tag(1, LEN);
  w.hexBytes(s.traceId);
  w.tag(2, LEN);
  w.hexBytes(s.spanId);
  if (s.recordedTracestate) {
    w.tag(3, LEN);
    w.string(s.recordedTracestate);
  }
  if (s.parentSpanId) {
    w.tag(4, LEN);
    w.hexBytes(s.parentSpanId);
  }
  w.tag(5, LEN);
  w.string(s.name);
  w.tag(6, VARINT);
  w.varint(KIND[s.kind]);
  w.tag(7, FIXED64);
  w.time(s.startMs);
  w.tag(8, FIXED64);
  w.time(s.endMs);
  writeAttributes(w, 9, s.keys, s.values);
  w.tag(10, VARINT);
  w.varint(s.droppedAttributes);
  // No events (11) or links (13); their dropped counts are written as zeros, as the SDK does.
  w.tag(12, VARINT);
  w.varint(0);
  w.tag(14, VARINT);
  w.varint(0);
  w.tag(15, LEN);
  const status = w.begin();
  if (s.statusMessage) {
    w.tag(2, LEN);
    w.string(s.statusMessage);
  }
  w.tag(3, VARINT);
  w.varint(s.statusCode);
  w.end(status);
  w.tag(16, FIXED32);
  // Every recorded span is sampled; a parent is always a remote context here.
  w.fixed32(FLAG_SAMPLED | FLAG_HAS_IS_REMOTE | (s.parentSpanId ? FLAG_IS_REMOTE : 0));
}

/**
 * Export requests for one resource and one instrumentation scope: append() encodes a span into
 * the open batch, take() returns the whole ExportTraceServiceRequest and starts a new batch.
 */
export class OtlpProtobufBatch {
  private readonly w = new ProtoWriter();
  /** ResourceSpans.resource (field 1) and ScopeSpans.scope (field 1), tag and length included. */
  private readonly resourceField: Buffer;
  private readonly scopeField: Buffer;

  constructor(resource: Readonly<Record<string, string>>, scopeName: string) {
    const w = new ProtoWriter(1024);
    w.tag(1, LEN);
    const res = w.begin();
    writeAttributes(w, 1, Object.keys(resource), Object.values(resource));
    w.tag(2, VARINT);
    w.varint(0); // dropped_attributes_count, written as the SDK does
    w.end(res);
    this.resourceField = w.take();
    w.tag(1, LEN);
    const scope = w.begin();
    w.tag(1, LEN);
    w.string(scopeName);
    w.end(scope);
    this.scopeField = w.take();
  }

  append(span: RecordedSpan): void {
    const w = this.w;
    w.tag(2, LEN); // ScopeSpans.spans
    const m = w.begin();
    writeSpan(w, span);
    w.end(m);
  }

  /** The request body for the spans appended since the last take. */
  take(): Buffer {
    const spans = this.w.pos;
    const scopeSpans = this.scopeField.length + spans;
    const resourceSpans = this.resourceField.length + 1 + varintSize(scopeSpans) + scopeSpans;
    const head = new ProtoWriter(32 + this.resourceField.length + this.scopeField.length);
    head.tag(1, LEN); // ExportTraceServiceRequest.resource_spans
    head.varint(resourceSpans);
    head.raw(this.resourceField);
    head.tag(2, LEN); // ResourceSpans.scope_spans
    head.varint(scopeSpans);
    head.raw(this.scopeField);
    const body = Buffer.allocUnsafe(head.pos + spans);
    head.buf.copy(body, 0, 0, head.pos);
    this.w.buf.copy(body, head.pos, 0, spans);
    this.w.pos = 0;
    return body;
  }
}
