// Dapr's encryption scheme `dapr.io/enc/v1` (dapr/kit schemes/enc/v1, written from its README):
//
//   header  = "dapr.io/enc/v1\n" + compact JSON manifest + "\n" + base64(HMAC-SHA-256) + "\n"
//   payload = segments of 64 KiB plaintext, each sealed with AES-256-GCM or ChaCha20-Poly1305
//             (16-byte tag appended); nonce = prefix(7) || counter(4, big endian) || last(1)
//
// A random 32-byte file key is wrapped by the crypto provider; the header MAC key is
// HKDF-SHA-256(fileKey, salt "", info "header") and the payload key
// HKDF-SHA-256(fileKey, salt noncePrefix, info "payload"). An empty plaintext has no segment.
// Both directions are Transform streams that hold at most one segment, so any size streams in
// bounded memory; a segment is emitted only after its tag verified.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export const SCHEME_NAME = 'dapr.io/enc/v1';
export const SEGMENT_SIZE = 64 * 1024;
const TAG = 16;
const NONCE_PREFIX = 7;
const MAX_HEADER = SEGMENT_SIZE;

/** Wrap algorithms by manifest id; the names are Dapr's. */
export const KEY_ALGORITHMS = ['', 'A256KW', 'A128CBC-NOPAD', 'A192CBC-NOPAD', 'A256CBC-NOPAD', 'RSA-OAEP-256'] as const;
export type KeyAlgorithm = Exclude<(typeof KEY_ALGORITHMS)[number], ''>;
export const CIPHERS = ['', 'AES-GCM', 'CHACHA20-POLY1305'] as const;
export type Cipher = Exclude<(typeof CIPHERS)[number], ''>;

/** Upper-cases and resolves Dapr's aliases (AES = A256KW, RSA = RSA-OAEP-256); undefined if unknown. */
export function keyAlgorithm(name: string): KeyAlgorithm | undefined {
  const n = name.trim().toUpperCase();
  if (n === 'AES') return 'A256KW';
  if (n === 'RSA') return 'RSA-OAEP-256';
  return KEY_ALGORITHMS.indexOf(n as KeyAlgorithm) > 0 ? (n as KeyAlgorithm) : undefined;
}

export function cipherName(name: string): Cipher | undefined {
  const n = name.trim().toUpperCase();
  return CIPHERS.indexOf(n as Cipher) > 0 ? (n as Cipher) : undefined;
}

export class SchemeError extends Error {
  override readonly name = 'SchemeError';
}

export interface Manifest {
  keyName: string;
  algorithm: KeyAlgorithm;
  wrappedKey: Buffer;
  cipher: Cipher;
  noncePrefix: Buffer;
}

/** Go's encoding/json order and forms: `k` omitted when empty, byte slices as standard base64. */
function manifestJson(m: Manifest): string {
  const k = m.keyName ? `"k":${goJsonString(m.keyName)},` : '';
  return `{${k}"kw":${KEY_ALGORITHMS.indexOf(m.algorithm)},"wfk":"${m.wrappedKey.toString('base64')}","cph":${CIPHERS.indexOf(m.cipher)},"np":"${m.noncePrefix.toString('base64')}"}`;
}

/** JSON string as Go escapes it (HTML-safe: <, >, & and U+2028/9 escaped). */
function goJsonString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function parseManifest(text: string): Manifest {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new SchemeError('invalid header: invalid manifest');
  }
  const bad = (): never => {
    throw new SchemeError('invalid header: invalid manifest');
  };
  if (!v || typeof v !== 'object') bad();
  const kw = v.kw;
  const cph = v.cph;
  if (typeof kw !== 'number' || !KEY_ALGORITHMS[kw]) bad();
  if (typeof cph !== 'number' || !CIPHERS[cph]) bad();
  if (typeof v.wfk !== 'string' || typeof v.np !== 'string') bad();
  const wrappedKey = Buffer.from(v.wfk as string, 'base64');
  const noncePrefix = Buffer.from(v.np as string, 'base64');
  if (wrappedKey.length === 0 || noncePrefix.length !== NONCE_PREFIX) bad();
  if (v.k !== undefined && typeof v.k !== 'string') bad();
  return {
    keyName: (v.k as string | undefined) ?? '',
    algorithm: KEY_ALGORITHMS[kw as number] as KeyAlgorithm,
    wrappedKey,
    cipher: CIPHERS[cph as number] as Cipher,
    noncePrefix,
  };
}

class FileKey {
  private readonly headerKey: Buffer;
  private readonly payloadKey: Buffer;
  private readonly nonce: Buffer;

  constructor(
    fileKey: Buffer,
    noncePrefix: Buffer,
    private readonly cipher: Cipher,
  ) {
    this.headerKey = Buffer.from(hkdfSync('sha256', fileKey, Buffer.alloc(0), 'header', 32));
    this.payloadKey = Buffer.from(hkdfSync('sha256', fileKey, noncePrefix, 'payload', 32));
    this.nonce = Buffer.alloc(12);
    noncePrefix.copy(this.nonce, 0, 0, NONCE_PREFIX);
  }

  mac(headerMessage: Buffer): Buffer {
    return createHmac('sha256', this.headerKey).update(headerMessage).digest();
  }

  private nonceFor(seq: number, last: boolean): Buffer {
    this.nonce.writeUInt32BE(seq, NONCE_PREFIX);
    this.nonce[11] = last ? 1 : 0;
    return this.nonce;
  }

  private algo(): 'aes-256-gcm' | 'chacha20-poly1305' {
    return this.cipher === 'AES-GCM' ? 'aes-256-gcm' : 'chacha20-poly1305';
  }

  seal(plain: Buffer, seq: number, last: boolean): Buffer {
    const c = createCipheriv(this.algo() as 'aes-256-gcm', this.payloadKey, this.nonceFor(seq, last), { authTagLength: TAG });
    const a = c.update(plain);
    const b = c.final();
    return Buffer.concat([a, b, c.getAuthTag()]);
  }

  open(sealed: Buffer, seq: number, last: boolean): Buffer {
    const d = createDecipheriv(this.algo() as 'aes-256-gcm', this.payloadKey, this.nonceFor(seq, last), { authTagLength: TAG });
    d.setAuthTag(sealed.subarray(sealed.length - TAG));
    const a = d.update(sealed.subarray(0, sealed.length - TAG));
    try {
      const b = d.final();
      return b.length ? Buffer.concat([a, b]) : a;
    } catch {
      throw new SchemeError(`error processing segment ${seq}: failed to decrypt segment`);
    }
  }
}

function headerMessage(manifest: string): Buffer {
  return Buffer.from(`${SCHEME_NAME}\n${manifest}\n`, 'utf8');
}

/**
 * Chunks its input into `size`-byte segments; a segment is known to be last only once the
 * input ends, so one full segment is held back until more data (or the end) arrives.
 */
abstract class Segmenter extends Transform {
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private seq = 0;

  constructor(private readonly size: number) {
    super();
  }

  protected abstract process(segment: Buffer, seq: number, last: boolean): Buffer;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      if (chunk.length) this.collect(chunk);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  private collect(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingLen += chunk.length;
    // Emit while strictly more than one segment is buffered: the held one is then not the last.
    while (this.pendingLen > this.size) {
      const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLen);
      const seg = all.subarray(0, this.size);
      const rest = all.subarray(this.size);
      this.pending = [rest];
      this.pendingLen = rest.length;
      if (this.seq === 0xffffffff) throw new SchemeError('input stream is too large');
      this.push(this.process(Buffer.from(seg), this.seq++, false));
    }
  }

  protected finishSegments(): void {
    if (this.pendingLen === 0) {
      if (this.seq !== 0) throw new SchemeError('unexpected EOF');
      return;
    }
    const all = Buffer.concat(this.pending, this.pendingLen);
    this.pending = [];
    this.pendingLen = 0;
    this.push(this.process(all, this.seq++, true));
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.beforeFlush();
      this.finishSegments();
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  protected beforeFlush(): void {}
}

export interface EncryptOptions {
  /** Wraps the 32-byte file key with the named key. */
  wrapKey(fileKey: Buffer): Promise<Buffer>;
  algorithm: KeyAlgorithm;
  cipher: Cipher;
  /** Name written into the manifest ('' omits it). */
  manifestKeyName: string;
}

class EncryptStream extends Segmenter {
  constructor(
    private readonly fk: FileKey,
    header: Buffer,
  ) {
    super(SEGMENT_SIZE);
    this.push(header);
  }

  protected process(segment: Buffer, seq: number, last: boolean): Buffer {
    return this.fk.seal(segment, seq, last);
  }
}

/**
 * A Transform turning plaintext into a `dapr.io/enc/v1` document. `rnd` is the file key (32
 * bytes) followed by the nonce prefix (7 bytes): fresh random bytes, fixed only by the
 * known-answer tests (test/unit/crypto-vectors.test.ts).
 */
export async function createEncryptStream(opts: EncryptOptions, rnd: Buffer = randomBytes(32 + NONCE_PREFIX)): Promise<Transform> {
  if (rnd.length !== 32 + NONCE_PREFIX) throw new SchemeError('invalid file key');
  const fileKey = rnd.subarray(0, 32);
  const noncePrefix = rnd.subarray(32);
  const wrappedKey = await opts.wrapKey(Buffer.from(fileKey));
  const fk = new FileKey(fileKey, noncePrefix, opts.cipher);
  const manifest = manifestJson({ keyName: opts.manifestKeyName, algorithm: opts.algorithm, wrappedKey, cipher: opts.cipher, noncePrefix });
  const msg = headerMessage(manifest);
  const header = Buffer.concat([msg, Buffer.from(`${fk.mac(msg).toString('base64')}\n`)]);
  if (header.length > MAX_HEADER) throw new SchemeError('failed to sign header: header is too long');
  return new EncryptStream(fk, header);
}

export interface DecryptOptions {
  /** Key name given by the caller; overrides the manifest's. */
  keyName: string;
  /** Unwraps the file key; a failure counts as a bad signature, as in Dapr. */
  unwrapKey(wrapped: Buffer, algorithm: KeyAlgorithm, keyName: string): Promise<Buffer>;
}

class DecryptStream extends Segmenter {
  private head: Buffer | undefined = Buffer.alloc(0);
  private fk: FileKey | undefined;
  private readonly opts: DecryptOptions;

  constructor(opts: DecryptOptions) {
    super(SEGMENT_SIZE + TAG);
    this.opts = opts;
  }

  protected process(segment: Buffer, seq: number, last: boolean): Buffer {
    return this.fk!.open(segment, seq, last);
  }

  override _transform(chunk: Buffer, enc: BufferEncoding, cb: TransformCallback): void {
    if (this.fk || !this.head) return super._transform(chunk, enc, cb);
    this.head = Buffer.concat([this.head, chunk]);
    const lines: number[] = [];
    for (let i = 0; i < this.head.length && lines.length < 3; i++) if (this.head[i] === 0x0a) lines.push(i);
    if (lines.length > 0 && this.head.subarray(0, lines[0]).toString('latin1') !== SCHEME_NAME) return cb(new SchemeError('invalid header: unsupported scheme'));
    if (lines.length < 3) {
      if (this.head.length > MAX_HEADER) return cb(new SchemeError('invalid header: header too long'));
      return cb();
    }
    const head = this.head;
    this.head = undefined;
    const manifestText = head.subarray(lines[0]! + 1, lines[1]).toString('utf8');
    const macText = head.subarray(lines[1]! + 1, lines[2]).toString('latin1');
    const rest = head.subarray(lines[2]! + 1);
    if (manifestText.length === 0) return cb(new SchemeError('invalid header: invalid format'));
    void this.start(manifestText, macText).then(
      () => super._transform(rest, enc, cb),
      (err: Error) => cb(err),
    );
  }

  private async start(manifestText: string, macText: string): Promise<void> {
    const m = parseManifest(manifestText);
    const keyName = this.opts.keyName || m.keyName;
    if (!keyName) throw new SchemeError("document's manifest does not contain a key name, and no key name was provided");
    let fileKey: Buffer;
    try {
      fileKey = await this.opts.unwrapKey(m.wrappedKey, m.algorithm, keyName);
    } catch {
      fileKey = Buffer.alloc(32);
    }
    if (fileKey.length !== 32) fileKey = Buffer.alloc(32);
    const fk = new FileKey(fileKey, m.noncePrefix, m.cipher);
    const expected = fk.mac(headerMessage(manifestText));
    const got = Buffer.from(macText, 'base64');
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) throw new SchemeError("failed to validate the document's signature");
    this.fk = fk;
  }

  protected override beforeFlush(): void {
    if (!this.fk) throw new SchemeError(this.head && this.head.length === 0 ? 'invalid header: scheme name not found' : 'invalid header: manifest not found');
  }
}

/** A Transform turning a `dapr.io/enc/v1` document back into plaintext (verified segments only). */
export function createDecryptStream(opts: DecryptOptions): Transform {
  return new DecryptStream(opts);
}
