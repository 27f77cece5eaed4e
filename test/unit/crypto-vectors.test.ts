// Known-answer vectors of `dapr.io/enc/v1` (test/fixtures/crypto-vectors): documents built from
// the scheme's written description by an independent reference derivation, with chosen keys and
// nonces. Our decoder must read them with the crypto.dapr.localstorage provider, our encoder must
// write them byte for byte from the same inputs, and every tampered variant must be refused
// without releasing a segment that did not verify.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../core/crypto/component.js';
import { createDecryptStream, createEncryptStream, type KeyAlgorithm } from '../../core/crypto/scheme.js';
import { createLocalStorageCrypto } from '../../components/crypto/localstorage.js';
import { aesKeyWrap, hkdf, labelledBytes, rsaOaepWrap } from '../helpers/enc-v1-reference.js';
import { randomInputs, referenceFor, refWrap, SPECS, VECTOR_DIR, type VectorSpec } from '../fixtures/crypto-vectors/vectors.js';

const SEG = 65536;
const quiet = { debug() {}, info() {}, warn() {}, error() {} } as never;
let provider: CryptoProvider;

beforeAll(async () => {
  provider = await createLocalStorageCrypto({ name: 'vectors', type: 'crypto.dapr.localstorage', version: 'v1', metadata: { path: join(VECTOR_DIR, 'keys') }, appId: 'a', homeDir: '/nonexistent', cwd: '/', env: {}, logger: quiet });
});

const doc = (spec: VectorSpec): Buffer => readFileSync(join(VECTOR_DIR, `${spec.name}.enc`));
const plain = (spec: VectorSpec): Buffer => labelledBytes(spec.name, spec.length);
const index = JSON.parse(readFileSync(join(VECTOR_DIR, 'vectors.json'), 'utf8')) as Array<VectorSpec & { documentSha256: string; plaintextSha256: string; fileKey: string; noncePrefix: string }>;

/** Feeds `input` in odd-sized chunks; collects what the transform let out even when it fails. */
async function run(input: Buffer, t: NodeJS.ReadWriteStream): Promise<{ out: Buffer; error: Error | undefined }> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      cb();
    },
  });
  let error: Error | undefined;
  await pipeline(Readable.from(chunkify(input, 9973)), t, sink).catch((e: Error) => (error = e));
  return { out: Buffer.concat(chunks), error };
}

function* chunkify(b: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

const decryptor = (keyName = ''): NodeJS.ReadWriteStream => createDecryptStream({ keyName, unwrapKey: (w, alg, k) => provider.unwrapKey(w, alg, k) });

describe('dapr.io/enc/v1 known-answer vectors', () => {
  it('the index lists every vector with the committed bytes and inputs', () => {
    expect(index.map((v) => v.name)).toEqual(SPECS.map((s) => s.name));
    for (const [i, spec] of SPECS.entries()) {
      expect(createHash('sha256').update(doc(spec)).digest('hex'), spec.name).toBe(index[i]!.documentSha256);
      expect(createHash('sha256').update(plain(spec)).digest('hex'), spec.name).toBe(index[i]!.plaintextSha256);
      expect(index[i]!.fileKey).toBe(randomInputs(spec).fileKey.toString('hex'));
    }
    // Every wrap algorithm with both ciphers; multi-segment, exact-boundary and empty payloads.
    const combos = new Set(SPECS.map((s) => `${s.wrap}/${s.cipher}`));
    expect(combos.size).toBe(10);
    expect(SPECS.some((s) => s.length > 2 * SEG)).toBe(true);
    expect(SPECS.some((s) => s.length === 0)).toBe(true);
  });

  it('the reference primitives agree with node and the providers (HKDF, AES-KW, OAEP)', async () => {
    const { fileKey, noncePrefix, seed } = randomInputs(SPECS[0]!);
    const { hkdfSync } = await import('node:crypto');
    expect(hkdf(fileKey, noncePrefix, 'payload', 32).equals(Buffer.from(hkdfSync('sha256', fileKey, noncePrefix, 'payload', 32)))).toBe(true);
    expect(hkdf(fileKey, Buffer.alloc(0), 'header', 32).equals(Buffer.from(hkdfSync('sha256', fileKey, Buffer.alloc(0), 'header', 32)))).toBe(true);
    const kek = (refWrap(SPECS[0]!) as { kek: Buffer }).kek;
    expect((await provider.wrapKey(fileKey, 'A256KW', 'kek-256.json')).equals(aesKeyWrap(kek, fileKey))).toBe(true);
    const rsa = refWrap(SPECS[2]!) as { publicKey: import('node:crypto').KeyObject };
    expect((await provider.unwrapKey(rsaOaepWrap(rsa.publicKey, seed, fileKey), 'RSA-OAEP-256', 'rsa.pem')).equals(fileKey)).toBe(true);
  });

  for (const spec of SPECS) {
    describe(spec.name, () => {
      it('is what the reference derivation writes', () => {
        expect(referenceFor(spec).equals(doc(spec))).toBe(true);
      });

      it('decrypts with our decoder and the localstorage provider', async () => {
        const { out, error } = await run(doc(spec), decryptor(spec.manifestKeyName ? '' : spec.key));
        expect(error).toBeUndefined();
        expect(out.equals(plain(spec))).toBe(true);
      });

      it('is written byte for byte by our encoder from the same file key and nonce prefix', async () => {
        const { fileKey, noncePrefix } = randomInputs(spec);
        const wfk = Buffer.from((JSON.parse(doc(spec).toString('latin1').split('\n')[1]!) as { wfk: string }).wfk, 'base64');
        // The provider must unwrap the vector's wrapped key to the chosen file key.
        expect((await provider.unwrapKey(wfk, spec.wrap as KeyAlgorithm, spec.key)).equals(fileKey)).toBe(true);
        // A256KW is deterministic, so the provider wraps; OAEP seeds and CBC IVs are random in
        // the provider, so the vector's wrapped key stands in for its output.
        const wrapKey = spec.wrap === 'A256KW' ? (k: Buffer) => provider.wrapKey(k, 'A256KW', spec.key) : async () => wfk;
        const enc = await createEncryptStream({ wrapKey, algorithm: spec.wrap as KeyAlgorithm, cipher: spec.cipher, manifestKeyName: spec.manifestKeyName }, Buffer.concat([fileKey, noncePrefix]));
        const { out, error } = await run(plain(spec), enc);
        expect(error).toBeUndefined();
        expect(out.equals(doc(spec))).toBe(true);
      });
    });
  }
});

describe('dapr.io/enc/v1 tampered vectors', () => {
  const headerEnd = (d: Buffer): number => {
    let n = 0;
    for (let i = 0; i < d.length; i++) if (d[i] === 0x0a && ++n === 3) return i + 1;
    throw new Error('no header');
  };
  const flip = (d: Buffer, at: number, bit = 1): Buffer => {
    const c = Buffer.from(d);
    c[at]! ^= bit;
    return c;
  };

  for (const spec of SPECS.filter((s) => s.length > 2 * SEG)) {
    describe(spec.name, () => {
      const d = (): Buffer => doc(spec);
      const seg = (i: number): number => headerEnd(d()) + i * (SEG + 16);
      // [case, tampered document, how many leading segments may have been released]
      const cases = (): Array<[string, Buffer, number]> => {
        const h = headerEnd(d());
        const swapped = Buffer.concat([d().subarray(0, h), d().subarray(seg(1), seg(2)), d().subarray(seg(0), seg(1)), d().subarray(seg(2))]);
        const text = d().toString('latin1');
        return [
          ['a manifest byte (nonce prefix) changed', Buffer.from(text.replace(/"np":"(.)/, (_m, c: string) => `"np":"${c === 'A' ? 'B' : 'A'}`), 'latin1'), 0],
          ['the cipher id changed in the manifest', Buffer.from(text.replace(/"cph":\d/, `"cph":${spec.cipher === 'AES-GCM' ? 2 : 1}`), 'latin1'), 0],
          ['the first MAC character changed', flip(d(), h - 45, 0x02), 0],
          ['a bit of the first segment flipped', flip(d(), seg(0) + 7), 0],
          ['a bit of the middle segment tag flipped', flip(d(), seg(2) - 1), 1],
          ['a bit of the last segment flipped', flip(d(), d().length - 20), 2],
          ['the first two segments swapped', swapped, 0],
          ['the last segment dropped', d().subarray(0, seg(2)), 1],
          ['the last byte dropped', d().subarray(0, d().length - 1), 2],
          ['a byte appended', Buffer.concat([d(), Buffer.from([0])]), 2],
          ['the final segment sealed as not last', referenceFor(spec, () => false), 2],
          ['the first segment sealed as last', referenceFor(spec, (i, n) => i === 0 || i === n - 1), 0],
        ];
      };

      it('refuses each tampered document and releases only segments that verified', async () => {
        const p = plain(spec);
        for (const [what, bad, releasable] of cases()) {
          const { out, error } = await run(bad, decryptor());
          expect(error, what).toBeInstanceOf(Error);
          expect(out.length, what).toBeLessThanOrEqual(releasable * SEG);
          expect(out.equals(p.subarray(0, out.length)), what).toBe(true);
        }
      });

      it('refuses the document under the wrong key-encryption key', async () => {
        const wrongKey = spec.key === 'kek-256.json' ? 'rsa.pem' : 'kek-256.json';
        const asAlg = createDecryptStream({ keyName: '', unwrapKey: (w) => provider.unwrapKey(w, spec.wrap as KeyAlgorithm, wrongKey) });
        const { out, error } = await run(d(), asAlg);
        expect(error?.message).toMatch(/signature/);
        expect(out.length).toBe(0);
      });
    });
  }
});
