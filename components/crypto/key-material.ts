// One key as the crypto providers hold it, and Dapr's key wrap algorithms over it with node's
// crypto: A256KW (RFC 3394 AES key wrap), AxxxCBC-NOPAD, RSA-OAEP-256. JWKs are read with jose.
//
// AES-CBC wrapping needs an IV and Dapr's scheme passes none, so Dapr's own providers refuse
// these algorithms; bulwark writes a random IV before the CBC ciphertext (16 + 32 bytes).
import { constants, createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, KeyObject, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import { importJWK, type JWK } from 'jose';
import type { CryptoProvider } from '../../core/crypto/component.js';
import type { KeyAlgorithm } from '../../core/crypto/scheme.js';

const KW_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');

export type KeyMaterial =
  | { kind: 'oct'; secret: Buffer }
  | { kind: 'asymmetric'; privateKey: KeyObject | undefined; publicKey: KeyObject };

export async function keyFromJwk(jwk: JWK): Promise<KeyMaterial> {
  if (jwk.kty === 'oct') {
    const raw = await importJWK({ ...jwk, ext: true }, 'HS256');
    if (!(raw instanceof Uint8Array)) throw new Error('invalid symmetric key');
    return { kind: 'oct', secret: Buffer.from(raw) };
  }
  if (jwk.kty === 'RSA' || jwk.kty === 'EC' || jwk.kty === 'OKP') {
    const alg = jwk.kty === 'RSA' ? 'RSA-OAEP-256' : jwk.kty === 'EC' ? 'ECDH-ES' : 'EdDSA';
    const k = await importJWK({ ...jwk, ext: true }, alg);
    if (k instanceof Uint8Array) throw new Error('invalid asymmetric key');
    const obj = KeyObject.from(k);
    if (obj.type === 'private') return { kind: 'asymmetric', privateKey: obj, publicKey: createPublicKey(obj) };
    return { kind: 'asymmetric', privateKey: undefined, publicKey: obj };
  }
  throw new Error(`unsupported key type ${String(jwk.kty)}`);
}

/** A key file's bytes: a JWK (JSON), PEM (RSA/EC/Ed25519 public or private, or a symmetric key), else raw symmetric bytes. */
export async function keyFromBytes(data: Buffer, hint: 'json' | 'pem' | 'auto'): Promise<KeyMaterial> {
  const text = data.toString('utf8').trim();
  if (hint === 'json' || (hint === 'auto' && text.startsWith('{'))) return keyFromJwk(JSON.parse(text) as JWK);
  if (hint === 'pem' || (hint === 'auto' && text.startsWith('-----BEGIN'))) {
    if (/-----BEGIN (?:RSA |EC )?PRIVATE KEY-----/.test(text)) {
      const priv = createPrivateKey(text);
      return { kind: 'asymmetric', privateKey: priv, publicKey: createPublicKey(priv) };
    }
    if (/-----BEGIN (?:RSA )?PUBLIC KEY-----/.test(text)) return { kind: 'asymmetric', privateKey: undefined, publicKey: createPublicKey(text) };
    const m = /-----BEGIN [A-Z ]+-----([\s\S]*?)-----END/.exec(text);
    if (!m) throw new Error('invalid PEM');
    return { kind: 'oct', secret: Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64') };
  }
  return { kind: 'oct', secret: Buffer.from(data) };
}

function aesCbc(bits: number): string {
  return `aes-${bits}-cbc`;
}

function cbcBits(alg: KeyAlgorithm): number | undefined {
  return alg === 'A128CBC-NOPAD' ? 128 : alg === 'A192CBC-NOPAD' ? 192 : alg === 'A256CBC-NOPAD' ? 256 : undefined;
}

function symmetric(key: KeyMaterial, alg: KeyAlgorithm, bytes: number): Buffer {
  if (key.kind !== 'oct') throw new Error(`key type mismatch: algorithm ${alg} needs a symmetric key`);
  if (key.secret.length !== bytes) throw new Error(`key type mismatch: algorithm ${alg} needs a ${bytes * 8}-bit key`);
  return key.secret;
}

export function wrapWith(key: KeyMaterial, plaintext: Buffer, alg: KeyAlgorithm): Buffer {
  if (alg === 'A256KW') {
    const c = createCipheriv('id-aes256-wrap', symmetric(key, alg, 32), KW_IV);
    return Buffer.concat([c.update(plaintext), c.final()]);
  }
  const bits = cbcBits(alg);
  if (bits) {
    const iv = randomBytes(16);
    const c = createCipheriv(aesCbc(bits), symmetric(key, alg, bits / 8), iv).setAutoPadding(false);
    return Buffer.concat([iv, c.update(plaintext), c.final()]);
  }
  if (key.kind !== 'asymmetric' || key.publicKey.asymmetricKeyType !== 'rsa') throw new Error(`key type mismatch: algorithm ${alg} needs an RSA key`);
  return publicEncrypt({ key: key.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, plaintext);
}

export function unwrapWith(key: KeyMaterial, wrapped: Buffer, alg: KeyAlgorithm): Buffer {
  if (alg === 'A256KW') {
    const d = createDecipheriv('id-aes256-wrap', symmetric(key, alg, 32), KW_IV);
    return Buffer.concat([d.update(wrapped), d.final()]);
  }
  const bits = cbcBits(alg);
  if (bits) {
    if (wrapped.length !== 48) throw new Error('invalid wrapped key');
    const d = createDecipheriv(aesCbc(bits), symmetric(key, alg, bits / 8), wrapped.subarray(0, 16)).setAutoPadding(false);
    return Buffer.concat([d.update(wrapped.subarray(16)), d.final()]);
  }
  if (key.kind !== 'asymmetric' || key.publicKey.asymmetricKeyType !== 'rsa') throw new Error(`key type mismatch: algorithm ${alg} needs an RSA key`);
  if (!key.privateKey) throw new Error('the key is public only and cannot unwrap');
  return privateDecrypt({ key: key.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, wrapped);
}

/** A provider whose keys come from `load` by name, wrapping and unwrapping with the algorithms above. */
export function keyProvider(load: (keyName: string) => Promise<KeyMaterial>): CryptoProvider {
  return {
    features: [],
    async wrapKey(plaintextKey, algorithm, keyName) {
      return wrapWith(await load(keyName), plaintextKey, algorithm);
    },
    async unwrapKey(wrappedKey, algorithm, keyName) {
      return unwrapWith(await load(keyName), wrappedKey, algorithm);
    },
  };
}
