// The cryptography API through a real sidecar: both providers, every wrap algorithm and both
// ciphers, Dapr's headers and errors, tampering, and 100 MB streamed with bounded memory.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, tempDir, writeFolder, type SidecarProc } from '../helpers/processes.js';
import { labelledBytes } from '../helpers/enc-v1-reference.js';
import { SPECS, VECTOR_DIR } from '../fixtures/crypto-vectors/vectors.js';

const b64u = (b: Buffer): string => b.toString('base64url');
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaJwk = rsa.privateKey.export({ format: 'jwk' });
const oct = { k16: randomBytes(16), k24: randomBytes(24), k32: randomBytes(32) };

let sidecar: SidecarProc;
let keysDir: string;
let jwksServer: Server;
let jwksFetches = 0;

afterAll(async () => {
  await new Promise<void>((r) => jwksServer.close(() => r()));
});

beforeAll(async () => {
  keysDir = writeFolder({
    'aes128.json': JSON.stringify({ kty: 'oct', k: b64u(oct.k16) }),
    'aes192.json': JSON.stringify({ kty: 'oct', k: b64u(oct.k24) }),
    'aes256.json': JSON.stringify({ kty: 'oct', k: b64u(oct.k32) }),
    'rsa.pem': rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    'rsa-public.pem': rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    'rsa.json': JSON.stringify(rsaJwk),
    'raw256': oct.k32.toString('binary'),
  });
  writeFileSync(join(keysDir, 'raw256'), oct.k32);
  writeFileSync(join(keysDir, '..', 'outside.json'), JSON.stringify({ kty: 'oct', k: b64u(oct.k32) }));
  const jwks = JSON.stringify({ keys: [{ ...rsaJwk, kid: 'rsa1' }, { kty: 'oct', kid: 'sym1', k: b64u(oct.k32) }] });
  jwksServer = createServer((_req, res) => {
    jwksFetches++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [{ kty: 'oct', kid: 'remote1', k: b64u(oct.k32) }] }));
  });
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  sidecar = await startSidecar({
    appId: 'crypto-app',
    args: ['--dapr-grpc-port', '0'],
    resources: {
      'local.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: localkeys
spec:
  type: crypto.dapr.localstorage
  version: v1
  metadata:
  - name: path
    value: "${keysDir}"
`,
      'jwks-url.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: remotekeys
spec:
  type: crypto.dapr.jwks
  version: v1
  metadata:
  - name: jwks
    value: "http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json"
  - name: minRefreshInterval
    value: "1h"
`,
      'vectors.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: vectorkeys
spec:
  type: crypto.dapr.localstorage
  version: v1
  metadata:
  - name: path
    value: "${join(VECTOR_DIR, 'keys')}"
`,
      'jwks.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: jwkskeys
spec:
  type: crypto.dapr.jwks
  version: v1
  metadata:
  - name: jwks
    value: '${jwks}'
`,
    },
  });
});

async function put(path: string, body: Buffer | Readable, headers: Record<string, string>): Promise<{ status: number; body: Buffer; type: string | undefined }> {
  const r = await request(`${sidecar.url}${path}`, { method: 'PUT', body, headers });
  return { status: r.statusCode, body: Buffer.from(await r.body.arrayBuffer()), type: r.headers['content-type'] as string | undefined };
}

const encrypt = (comp: string, body: Buffer, headers: Record<string, string>) => put(`/v1.0-alpha1/crypto/${comp}/encrypt`, body, headers);
const decrypt = (comp: string, body: Buffer, headers: Record<string, string> = {}) => put(`/v1.0-alpha1/crypto/${comp}/decrypt`, body, headers);

describe('crypto round trips', () => {
  const cases: Array<[string, string, string]> = [
    ['localkeys', 'aes256.json', 'A256KW'],
    ['localkeys', 'aes256.json', 'AES'],
    ['localkeys', 'raw256', 'A256KW'],
    ['localkeys', 'aes128.json', 'A128CBC-NOPAD'],
    ['localkeys', 'aes192.json', 'A192CBC-NOPAD'],
    ['localkeys', 'aes256.json', 'A256CBC-NOPAD'],
    ['localkeys', 'rsa.pem', 'RSA-OAEP-256'],
    ['localkeys', 'rsa.json', 'rsa'],
    ['jwkskeys', 'rsa1', 'RSA-OAEP-256'],
    ['jwkskeys', 'sym1', 'A256KW'],
    ['remotekeys', 'remote1', 'A256KW'],
  ];
  for (const [comp, key, alg] of cases) {
    for (const cipher of ['aes-gcm', 'chacha20-poly1305']) {
      it(`${comp} ${key} ${alg} ${cipher}`, async () => {
        const plain = randomBytes(150_000);
        const enc = await encrypt(comp, plain, { 'dapr-key-name': key, 'dapr-key-wrap-algorithm': alg, 'dapr-data-encryption-cipher': cipher });
        expect(enc.status, enc.body.toString()).toBe(200);
        expect(enc.type).toBe('application/octet-stream');
        const lines = enc.body.subarray(0, 600).toString('latin1').split('\n');
        expect(lines[0]).toBe('dapr.io/enc/v1');
        expect(JSON.parse(lines[1]!)).toMatchObject({ k: key, cph: cipher === 'aes-gcm' ? 1 : 2 });
        const dec = await decrypt(comp, enc.body);
        expect(dec.status, dec.body.toString()).toBe(200);
        expect(dec.body.equals(plain)).toBe(true);
      });
    }
  }

  it('wraps with a public key and unwraps with the private one (dapr-decryption-key-name)', async () => {
    const enc = await encrypt('localkeys', Buffer.from('hello'), { 'dapr-key-name': 'rsa-public.pem', 'dapr-key-wrap-algorithm': 'RSA', 'dapr-decryption-key-name': 'rsa.pem' });
    expect(enc.status).toBe(200);
    expect(JSON.parse(enc.body.toString().split('\n')[1]!).k).toBe('rsa.pem');
    const dec = await decrypt('localkeys', enc.body);
    expect(dec.body.toString()).toBe('hello');
  });

  it('omits the key name when asked; decrypt then needs dapr-key-name', async () => {
    const enc = await encrypt('localkeys', Buffer.from('quiet'), { 'dapr-key-name': 'aes256.json', 'dapr-key-wrap-algorithm': 'A256KW', 'dapr-omit-decryption-key-name': 'true' });
    expect(JSON.parse(enc.body.toString().split('\n')[1]!).k).toBeUndefined();
    const without = await decrypt('localkeys', enc.body);
    expect(without.status).toBe(500);
    expect(JSON.parse(without.body.toString()).errorCode).toBe('ERR_CRYPTO');
    const dec = await decrypt('localkeys', enc.body, { 'dapr-key-name': 'aes256.json' });
    expect(dec.body.toString()).toBe('quiet');
  });

  it('fetches a JWKS URL once, and a document wrapped with one provider decrypts with another holding the same key', async () => {
    const enc = await encrypt('remotekeys', Buffer.from('shared'), { 'dapr-key-name': 'remote1', 'dapr-key-wrap-algorithm': 'A256KW' });
    const dec = await decrypt('localkeys', enc.body, { 'dapr-key-name': 'aes256.json' });
    expect(dec.body.toString()).toBe('shared');
    const unknown = await encrypt('remotekeys', Buffer.from('x'), { 'dapr-key-name': 'nope', 'dapr-key-wrap-algorithm': 'A256KW' });
    expect(unknown.status).toBe(500);
    expect(jwksFetches).toBe(1);
  });

  it('encrypts and decrypts an empty body', async () => {
    const enc = await encrypt('localkeys', Buffer.alloc(0), { 'dapr-key-name': 'aes256.json', 'dapr-key-wrap-algorithm': 'A256KW' });
    expect(enc.status).toBe(200);
    const dec = await decrypt('localkeys', enc.body);
    expect(dec.status).toBe(200);
    expect(dec.body.length).toBe(0);
  });
});

describe('crypto known-answer vectors', () => {
  // Documents built from the scheme's description with chosen keys (test/fixtures/crypto-vectors).
  for (const spec of SPECS) {
    it(`decrypts ${spec.name}, and refuses it with one bit flipped`, async () => {
      const doc = readFileSync(join(VECTOR_DIR, `${spec.name}.enc`));
      const headers: Record<string, string> = spec.manifestKeyName ? {} : { 'dapr-key-name': spec.key };
      const dec = await decrypt('vectorkeys', doc, headers);
      expect(dec.status, dec.body.toString()).toBe(200);
      expect(dec.body.equals(labelledBytes(spec.name, spec.length))).toBe(true);
      const bad = Buffer.from(doc);
      bad[bad.length - 1]! ^= 0x80; // the last tag, or the MAC line's newline for an empty payload
      const r = await decrypt('vectorkeys', bad, headers);
      expect(r.status).toBe(500);
      expect((JSON.parse(r.body.toString()) as { errorCode: string }).errorCode).toBe('ERR_CRYPTO');
    });
  }
});

describe('crypto errors', () => {
  const json = (b: Buffer): { errorCode: string; message: string } => JSON.parse(b.toString()) as { errorCode: string; message: string };

  it('answers Dapr codes for missing headers, unknown providers and bad algorithms', async () => {
    let r = await encrypt('localkeys', Buffer.from('x'), { 'dapr-key-wrap-algorithm': 'A256KW' });
    expect([r.status, json(r.body)]).toEqual([400, { errorCode: 'ERR_BAD_REQUEST', message: "missing header 'dapr-key-name'" }]);
    r = await encrypt('localkeys', Buffer.from('x'), { 'dapr-key-name': 'aes256.json' });
    expect([r.status, json(r.body).errorCode]).toEqual([400, 'ERR_BAD_REQUEST']);
    r = await encrypt('nope', Buffer.from('x'), { 'dapr-key-name': 'k', 'dapr-key-wrap-algorithm': 'A256KW' });
    expect([r.status, json(r.body).errorCode]).toEqual([400, 'ERR_CRYPTO_PROVIDER_NOT_FOUND']);
    r = await encrypt('localkeys', Buffer.from('x'), { 'dapr-key-name': 'aes256.json', 'dapr-key-wrap-algorithm': 'A512KW' });
    expect([r.status, json(r.body).errorCode]).toEqual([500, 'ERR_CRYPTO']);
    r = await encrypt('localkeys', Buffer.from('x'), { 'dapr-key-name': 'aes128.json', 'dapr-key-wrap-algorithm': 'A256KW' });
    expect([r.status, json(r.body).errorCode]).toEqual([500, 'ERR_CRYPTO']);
    const sub = await request(`${sidecar.url}/v1.0-alpha1/subtlecrypto/localkeys/encrypt`, { method: 'POST', body: '{}' });
    expect(sub.statusCode).toBe(501);
    expect(((await sub.body.json()) as { errorCode: string }).errorCode).toBe('ERR_API_UNIMPLEMENTED');
  });

  it('refuses key names with .. or a path', async () => {
    for (const name of ['../outside.json', '..', 'sub/../../outside.json', join(keysDir, 'aes256.json')]) {
      const r = await encrypt('localkeys', Buffer.from('x'), { 'dapr-key-name': name, 'dapr-key-wrap-algorithm': 'A256KW' });
      expect(r.status, name).toBe(500);
      expect(json(r.body)).toMatchObject({ errorCode: 'ERR_CRYPTO' });
      expect(json(r.body).message).toMatch(/invalid key name/);
    }
  });

  it('answers an error and no plaintext for tampered ciphertext (header, segment, truncation, wrong key)', async () => {
    const plain = randomBytes(200_000);
    const enc = (await encrypt('localkeys', plain, { 'dapr-key-name': 'aes256.json', 'dapr-key-wrap-algorithm': 'A256KW' })).body;
    const variants: Buffer[] = [];
    const lastSeg = Buffer.from(enc);
    lastSeg[lastSeg.length - 5]! ^= 0x40;
    variants.push(lastSeg);
    const firstSeg = Buffer.from(enc);
    firstSeg[enc.indexOf(0x0a, enc.indexOf(0x0a, 15) + 1) + 10]! ^= 1;
    variants.push(firstSeg);
    variants.push(enc.subarray(0, enc.length - 1000));
    const manifest = Buffer.from(enc.toString('latin1').replace('"k":"aes256.json"', '"k":"aes192.json"'), 'latin1');
    variants.push(manifest);
    for (const v of variants) {
      const r = await decrypt('localkeys', v);
      expect(r.status).toBe(500);
      expect(json(r.body).errorCode).toBe('ERR_CRYPTO');
      expect(r.body.includes(plain.subarray(0, 32))).toBe(false);
    }
  });
});

describe('crypto streaming', () => {
  function vmRss(pid: number): number {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m![1]) * 1024;
  }

  it('streams 100 MB through encrypt and decrypt with bounded sidecar memory', async () => {
    const SIZE = 100 * 1024 * 1024;
    const dir = tempDir('bulwark-crypto-');
    const baseline = vmRss(sidecar.pid);
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, vmRss(sidecar.pid))), 50);
    try {
      const source = (): Readable => {
        let sent = 0;
        const block = Buffer.alloc(1 << 20);
        return new Readable({
          read() {
            if (sent >= SIZE) return this.push(null);
            block.writeUInt32BE(sent >>> 20, 0);
            sent += block.length;
            this.push(Buffer.from(block));
          },
        });
      };
      const hashIn = createHash('sha256');
      await pipeline(source(), async function* (src) {
        for await (const c of src) hashIn.update(c as Buffer);
      });
      const encFile = join(dir, 'big.enc');
      const enc = await request(`${sidecar.url}/v1.0-alpha1/crypto/localkeys/encrypt`, { method: 'PUT', body: source(), headers: { 'dapr-key-name': 'aes256.json', 'dapr-key-wrap-algorithm': 'A256KW', 'dapr-data-encryption-cipher': 'chacha20-poly1305' } });
      expect(enc.statusCode).toBe(200);
      await pipeline(enc.body, createWriteStream(encFile));
      expect(statSync(encFile).size).toBeGreaterThan(SIZE);
      const dec = await request(`${sidecar.url}/v1.0-alpha1/crypto/localkeys/decrypt`, { method: 'PUT', body: createReadStream(encFile) });
      expect(dec.statusCode).toBe(200);
      const hashOut = createHash('sha256');
      let n = 0;
      for await (const c of dec.body) {
        hashOut.update(c as Buffer);
        n += (c as Buffer).length;
      }
      expect(n).toBe(SIZE);
      expect(hashOut.digest('hex')).toBe(hashIn.digest('hex'));
    } finally {
      clearInterval(sampler);
    }
    console.log(`crypto streaming: sidecar RSS ${(baseline / 1048576).toFixed(0)} MiB before, peak ${(peak / 1048576).toFixed(0)} MiB for 100 MiB each way`);
    // Generous: growth well under the document's size (buffering it would add 100+ MiB each way).
    expect(peak - baseline).toBeLessThan(100 * 1024 * 1024);
  }, 240_000);
});
