// A second, deliberately plain derivation of Dapr's `dapr.io/enc/v1` documents, written step by
// step from the scheme's description (dapr/kit schemes/enc/v1 README) and the RFCs it names. It
// shares no code with core/crypto/scheme.ts or components/crypto/key-material.ts: HKDF (RFC 5869),
// AES key wrap (RFC 3394), CBC chaining and OAEP encoding (RFC 8017) are spelled out here over
// node's raw block cipher, HMAC, SHA-256 and RSA primitives, so the two can check each other.
// Randomness is an input (file key, nonce prefix, CBC IV, OAEP seed), so the output is fixed.
import { constants, createCipheriv, createHash, createHmac, publicEncrypt, type KeyObject } from 'node:crypto';

export type RefCipher = 'AES-GCM' | 'CHACHA20-POLY1305';
export type RefWrap =
  | { alg: 'A256KW'; kek: Buffer }
  | { alg: 'A128CBC-NOPAD' | 'A192CBC-NOPAD' | 'A256CBC-NOPAD'; kek: Buffer; iv: Buffer }
  | { alg: 'RSA-OAEP-256'; publicKey: KeyObject; seed: Buffer };

export interface RefInput {
  plaintext: Buffer;
  fileKey: Buffer;
  noncePrefix: Buffer;
  cipher: RefCipher;
  /** '' leaves "k" out of the manifest (Go's omitempty). */
  keyName: string;
  wrap: RefWrap;
  /** Tamper knob: the last-segment flag each segment is sealed with (default: only the final one). */
  lastFlag?: (index: number, count: number) => boolean;
}

const SEGMENT = 65536;
// Manifest ids, from the description's Go struct comments.
const WRAP_IDS = { A256KW: 1, 'A128CBC-NOPAD': 2, 'A192CBC-NOPAD': 3, 'A256CBC-NOPAD': 4, 'RSA-OAEP-256': 5 } as const;
const CIPHER_IDS = { 'AES-GCM': 1, 'CHACHA20-POLY1305': 2 } as const;

const hmac = (key: Buffer, ...parts: Buffer[]): Buffer => {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
};

/** RFC 5869: extract with HMAC-SHA-256 (empty salt = 32 zero bytes), then expand. */
export function hkdf(ikm: Buffer, salt: Buffer, info: string, length: number): Buffer {
  const prk = hmac(salt.length ? salt : Buffer.alloc(32), ikm);
  const out: Buffer[] = [];
  let t = Buffer.alloc(0);
  for (let i = 1; Buffer.concat(out).length < length; i++) {
    t = hmac(prk, t, Buffer.from(info, 'utf8'), Buffer.from([i]));
    out.push(t);
  }
  return Buffer.concat(out).subarray(0, length);
}

/** One raw AES block encryption (ECB of exactly one block, no padding). */
function aesBlock(key: Buffer, block: Buffer): Buffer {
  const c = createCipheriv(`aes-${key.length * 8}-ecb`, key, null).setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

/** RFC 3394 section 2.2.1, the index-based form. */
export function aesKeyWrap(kek: Buffer, plain: Buffer): Buffer {
  const n = plain.length / 8;
  let a = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');
  const r = Array.from({ length: n }, (_, i) => Buffer.from(plain.subarray(i * 8, i * 8 + 8)));
  for (let j = 0; j <= 5; j++) {
    for (let i = 1; i <= n; i++) {
      const b = aesBlock(kek, Buffer.concat([a, r[i - 1]!]));
      const t = BigInt(n * j + i);
      a = Buffer.from(b.subarray(0, 8));
      a.writeBigUInt64BE(a.readBigUInt64BE(0) ^ t, 0);
      r[i - 1] = Buffer.from(b.subarray(8));
    }
  }
  return Buffer.concat([a, ...r]);
}

/** bulwark's CBC wrap layout: IV || CBC(kek, IV, fileKey) without padding (the key is 2 blocks). */
export function cbcWrap(kek: Buffer, iv: Buffer, plain: Buffer): Buffer {
  const out: Buffer[] = [iv];
  let prev = iv;
  for (let i = 0; i < plain.length; i += 16) {
    const x = Buffer.alloc(16);
    for (let k = 0; k < 16; k++) x[k] = plain[i + k]! ^ prev[k]!;
    prev = aesBlock(kek, x);
    out.push(prev);
  }
  return Buffer.concat(out);
}

const sha256 = (...parts: Buffer[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

function mgf1(seed: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  for (let c = 0; out.length * 32 < length; c++) {
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(c, 0);
    out.push(sha256(seed, counter));
  }
  return Buffer.concat(out).subarray(0, length);
}

const xor = (a: Buffer, b: Buffer): Buffer => Buffer.from(a.map((v, i) => v ^ b[i]!));

/** RFC 8017 7.1.1 with SHA-256 and MGF1-SHA-256, empty label, the given seed; then raw RSA. */
export function rsaOaepWrap(publicKey: KeyObject, seed: Buffer, message: Buffer): Buffer {
  const k = (publicKey.asymmetricKeyDetails!.modulusLength! + 7) >> 3;
  const db = Buffer.concat([sha256(Buffer.alloc(0)), Buffer.alloc(k - message.length - 2 * 32 - 2), Buffer.from([1]), message]);
  const maskedDb = xor(db, mgf1(seed, k - 32 - 1));
  const maskedSeed = xor(seed, mgf1(maskedDb, 32));
  const em = Buffer.concat([Buffer.from([0]), maskedSeed, maskedDb]);
  return publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, em);
}

export function wrapFileKey(wrap: RefWrap, fileKey: Buffer): Buffer {
  if (wrap.alg === 'A256KW') return aesKeyWrap(wrap.kek, fileKey);
  if (wrap.alg === 'RSA-OAEP-256') return rsaOaepWrap(wrap.publicKey, wrap.seed, fileKey);
  return cbcWrap(wrap.kek, wrap.iv, fileKey);
}

/** The manifest as Go's encoding/json writes the struct: fields in declaration order, []byte as padded base64. */
export function manifest(keyName: string, wrapAlg: RefWrap['alg'], wfk: Buffer, cipher: RefCipher, noncePrefix: Buffer): string {
  // The vectors' key names are plain ASCII, so JSON.stringify and Go agree on them.
  const k = keyName === '' ? '' : `"k":${JSON.stringify(keyName)},`;
  return `{${k}"kw":${WRAP_IDS[wrapAlg]},"wfk":"${wfk.toString('base64')}","cph":${CIPHER_IDS[cipher]},"np":"${noncePrefix.toString('base64')}"}`;
}

export function sealSegment(cipher: RefCipher, key: Buffer, nonce: Buffer, plain: Buffer): Buffer {
  const c = createCipheriv((cipher === 'AES-GCM' ? 'aes-256-gcm' : 'chacha20-poly1305') as 'aes-256-gcm', key, nonce, { authTagLength: 16 });
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

/** header || segment_0 || ... || segment_k */
export function referenceDocument(input: RefInput): Buffer {
  const { plaintext, fileKey, noncePrefix, cipher } = input;
  const wfk = wrapFileKey(input.wrap, fileKey);
  const signed = Buffer.from(`dapr.io/enc/v1\n${manifest(input.keyName, input.wrap.alg, wfk, cipher, noncePrefix)}\n`, 'utf8');
  const mac = hmac(hkdf(fileKey, Buffer.alloc(0), 'header', 32), signed);
  const parts: Buffer[] = [signed, Buffer.from(`${mac.toString('base64')}\n`, 'latin1')];
  const payloadKey = hkdf(fileKey, noncePrefix, 'payload', 32);
  const count = Math.ceil(plaintext.length / SEGMENT);
  const isLast = input.lastFlag ?? ((i: number, n: number) => i === n - 1);
  for (let i = 0; i < count; i++) {
    const nonce = Buffer.alloc(12);
    noncePrefix.copy(nonce, 0, 0, 7);
    nonce.writeUInt32BE(i, 7);
    nonce[11] = isLast(i, count) ? 1 : 0;
    parts.push(sealSegment(cipher, payloadKey, nonce, plaintext.subarray(i * SEGMENT, (i + 1) * SEGMENT)));
  }
  return Buffer.concat(parts);
}

/** Deterministic test bytes: SHA-256(label || counter) blocks, cut to `length`. */
export function labelledBytes(label: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let off = 0, c = 0; off < length; off += 32, c++) {
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(c, 0);
    sha256(Buffer.from(label, 'utf8'), counter).copy(out, off);
  }
  return out;
}
