import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { createDecryptStream, createEncryptStream, type Cipher } from '../../core/crypto/scheme.js';
const rep = (pattern: number[], times: number): Buffer => Buffer.from(Array.from({ length: times }, () => pattern).flat());
const TEN = [1, 2, 3, 4, 5, 6, 7, 8, 9, 0];
const EIGHT = [1, 2, 3, 4, 5, 6, 7, 8];
// Plaintexts around the 64 KiB segment boundaries.
const VECTORS: Record<string, Buffer> = {
  'single-segment': Buffer.from('hello world'),
  'multi-segment': rep(TEN, 12 << 10),
  'one-full-segment': rep(EIGHT, 8 << 10),
  'two-full-segments': rep(EIGHT, 16 << 10),
  'large-file': rep(TEN, 30 << 10),
  'empty-message': Buffer.alloc(0),
};

// A pass-through key wrap: the manifest's wfk is the file key itself.
const identity = { unwrapKey: async (w: Buffer) => w };

async function run(input: Buffer, t: NodeJS.ReadWriteStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(Readable.from(chunkify(input, 7919)), t, async function* (src) {
    for await (const c of src) chunks.push(c as Buffer);
  });
  return Buffer.concat(chunks);
}

function* chunkify(b: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

// Documents made by our own encoder (no third-party test data is kept in this repository).
const encrypt = async (plain: Buffer, manifestKeyName = 'mykey'): Promise<Buffer> =>
  run(plain, await createEncryptStream({ wrapKey: async (k) => k, algorithm: 'A256KW', cipher: 'AES-GCM', manifestKeyName }));

describe('dapr.io/enc/v1 decoding', () => {
  it('needs a key name for a document without one, and takes the one given', async () => {
    const enc = await encrypt(Buffer.from('hello world'), '');
    await expect(run(enc, createDecryptStream({ keyName: '', ...identity }))).rejects.toThrow(/does not contain a key name/);
    const names: string[] = [];
    const out = await run(enc, createDecryptStream({ keyName: 'mykey', unwrapKey: async (w, _a, k) => (names.push(k), w) }));
    expect(out.toString()).toBe('hello world');
    expect(names).toEqual(['mykey']);
  });

  it('refuses a flipped byte in a segment, a wrong file key, a truncated document and a foreign scheme', async () => {
    const enc = await encrypt(VECTORS['two-full-segments']!);
    const flipped = Buffer.from(enc);
    flipped[flipped.length - 100]! ^= 1;
    await expect(run(flipped, createDecryptStream({ keyName: '', ...identity }))).rejects.toThrow(/failed to decrypt segment/);
    await expect(run(enc, createDecryptStream({ keyName: '', unwrapKey: async () => Buffer.alloc(32, 9) }))).rejects.toThrow(/signature/);
    // Dropping the last segment: the first one was sealed as "not last", so it fails too.
    await expect(run(enc.subarray(0, enc.length - 65552), createDecryptStream({ keyName: '', ...identity }))).rejects.toThrow(/failed to decrypt segment/);
    await expect(run(Buffer.from('invalidscheme\nfoo'), createDecryptStream({ keyName: '', ...identity }))).rejects.toThrow(/unsupported scheme/);
  });
});

describe('dapr.io/enc/v1 round trips', () => {
  for (const cipher of ['AES-GCM', 'CHACHA20-POLY1305'] as Cipher[]) {
    for (const [name, plain] of Object.entries(VECTORS)) {
      it(`${cipher}: ${name}`, async () => {
        const enc = await run(plain, await createEncryptStream({ wrapKey: async (k) => k, algorithm: 'A256KW', cipher, manifestKeyName: 'mykey' }));
        const lines = enc.toString('latin1').split('\n');
        expect(lines[0]).toBe('dapr.io/enc/v1');
        const manifest = JSON.parse(lines[1]!) as Record<string, unknown>;
        expect(manifest).toMatchObject({ k: 'mykey', kw: 1, cph: cipher === 'AES-GCM' ? 1 : 2 });
        expect(Object.keys(manifest)).toEqual(['k', 'kw', 'wfk', 'cph', 'np']);
        expect(lines[2]).toHaveLength(44);
        const out = await run(enc, createDecryptStream({ keyName: '', ...identity }));
        expect(out.equals(plain)).toBe(true);
      });
    }
  }

  it('omits k when no key name is to be written', async () => {
    const enc = await buffer(Readable.from([Buffer.from('x')]).pipe(await createEncryptStream({ wrapKey: async (k) => k, algorithm: 'RSA-OAEP-256', cipher: 'AES-GCM', manifestKeyName: '' })));
    expect(enc.toString('latin1').split('\n')[1]).toMatch(/^\{"kw":5,"wfk":"[^"]+","cph":1,"np":"[^"]{12}"\}$/);
  });
});
