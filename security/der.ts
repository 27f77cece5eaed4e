// The little ASN.1 DER we need for X.509 certificates and PKCS#10 requests: encoders that
// return Buffers, and a reader that walks tag-length-value triples without copying. Keys and
// signatures come from node:crypto; this file only frames bytes.

export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return Buffer.from([0x80 | out.length, ...out]);
}

export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), lengthBytes(content.length), content]);
}

export const seq = (...items: Buffer[]): Buffer => tlv(TAG.sequence, Buffer.concat(items));
export const set = (...items: Buffer[]): Buffer => tlv(TAG.set, Buffer.concat(items));
export const nul = (): Buffer => Buffer.from([TAG.null, 0]);
export const bool = (v: boolean): Buffer => tlv(TAG.boolean, Buffer.from([v ? 0xff : 0]));
export const octets = (b: Buffer): Buffer => tlv(TAG.octetString, b);
export const utf8 = (s: string): Buffer => tlv(TAG.utf8String, Buffer.from(s, 'utf8'));
/** Context-specific tag [n]; `constructed` for explicit tagging or SEQUENCE-like content. */
export const ctx = (n: number, content: Buffer, constructed: boolean): Buffer => tlv((constructed ? 0xa0 : 0x80) | n, content);

/** A bit string whose first byte is the count of unused bits. */
export const bits = (b: Buffer, unused = 0): Buffer => tlv(TAG.bitString, Buffer.concat([Buffer.from([unused]), b]));

/** A non-negative integer from big-endian bytes (minimal, with a 0 pad when the top bit is set). */
export function uint(bytes: Buffer | number): Buffer {
  let b: Buffer;
  if (typeof bytes === 'number') {
    const hex = bytes.toString(16);
    b = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  } else b = bytes;
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && b[i + 1]! < 0x80) i++;
  b = b.subarray(i);
  if (b[0]! >= 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(TAG.integer, b);
}

export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(TAG.oid, Buffer.from(out));
}

/** UTCTime up to 2049, GeneralizedTime from 2050, as RFC 5280 asks. */
export function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  const year = d.getUTCFullYear();
  return year < 2050 ? tlv(TAG.utcTime, Buffer.from(`${iso.slice(2)}Z`)) : tlv(TAG.generalizedTime, Buffer.from(`${iso}Z`));
}

export interface Node {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  body: number;
  /** Offset just past the content. */
  end: number;
}

export function read(buf: Buffer, at = 0): Node {
  if (at + 2 > buf.length) throw new Error('DER: truncated');
  const tag = buf[at]!;
  let len = buf[at + 1]!;
  let body = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || body + n > buf.length) throw new Error('DER: bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[body + i]!;
    body += n;
  }
  const end = body + len;
  if (end > buf.length) throw new Error('DER: truncated');
  return { tag, start: at, body, end };
}

export function children(buf: Buffer, n: Node): Node[] {
  const out: Node[] = [];
  for (let at = n.body; at < n.end; ) {
    const c = read(buf, at);
    out.push(c);
    at = c.end;
  }
  return out;
}

export const raw = (buf: Buffer, n: Node): Buffer => buf.subarray(n.start, n.end);
export const content = (buf: Buffer, n: Node): Buffer => buf.subarray(n.body, n.end);

export function decodeOid(b: Buffer): string {
  const out = [Math.floor(b[0]! / 40), b[0]! % 40];
  let v = 0;
  for (let i = 1; i < b.length; i++) {
    v = v * 128 + (b[i]! & 0x7f);
    if (!(b[i]! & 0x80)) {
      out.push(v);
      v = 0;
    }
  }
  return out.join('.');
}

export function pem(type: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${type}-----\n${b64}\n-----END ${type}-----\n`;
}

/** Every PEM block of `type` in `text`, as DER (comments and other blocks are skipped). */
export function pemBlocks(text: string, type: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${type}-----([\\s\\S]*?)-----END ${type}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}
