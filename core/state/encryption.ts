// Automatic state encryption (`primaryEncryptionKey` / `secondaryEncryptionKey` metadata), in
// Dapr's stored form: base64(nonce || AES-GCM ciphertext || tag) + "||" + key name, where the
// key name is the secret's name from secretKeyRef and the key is hex (128, 192 or 256 bits).
// New values use the primary key; values under the secondary key still decrypt (key rotation).
import { createCipheriv, createDecipheriv, randomBytes, type CipherGCMTypes } from 'node:crypto';
import type { LoadedComponent } from '../block.js';
import type { ComponentResource } from '../../resources/types.js';
import { KEY_SEPARATOR } from './keys.js';

interface Key {
  name: string;
  algorithm: CipherGCMTypes;
  secret: Buffer;
}

const NONCE = 12;
const TAG = 16;

export class StateEncryption {
  constructor(
    private readonly primary: Key,
    private readonly secondary: Key | undefined,
  ) {}

  encrypt(plain: Uint8Array): Buffer {
    const k = this.primary;
    const nonce = randomBytes(NONCE);
    const c = createCipheriv(k.algorithm, k.secret, nonce);
    const body = Buffer.concat([nonce, c.update(plain), c.final(), c.getAuthTag()]);
    return Buffer.from(`${body.toString('base64')}${KEY_SEPARATOR}${k.name}`);
  }

  decrypt(stored: string | Uint8Array): Buffer {
    const text = typeof stored === 'string' ? stored : Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength).toString('latin1');
    const i = text.lastIndexOf(KEY_SEPARATOR);
    const name = i < 0 ? '' : text.slice(i + KEY_SEPARATOR.length);
    if (i < 0) throw new Error('could not decrypt data: encryption key name not found on record');
    const k = name === this.primary.name ? this.primary : name === this.secondary?.name ? this.secondary : undefined;
    if (!k) throw new Error(`could not decrypt data: unknown encryption key ${name}`);
    const body = Buffer.from(text.slice(0, i), 'base64');
    if (body.length < NONCE + TAG) throw new Error('could not decrypt data: value too short');
    const d = createDecipheriv(k.algorithm, k.secret, body.subarray(0, NONCE));
    d.setAuthTag(body.subarray(body.length - TAG));
    return Buffer.concat([d.update(body.subarray(NONCE, body.length - TAG)), d.final()]);
  }
}

/** The store's encryption, or undefined when it has no primaryEncryptionKey. Throws on a bad key. */
export function encryptionFor(loaded: LoadedComponent, resource: ComponentResource | undefined): StateEncryption | undefined {
  const key = (metaName: string): Key | undefined => {
    const hex = loaded.metadata[metaName];
    if (hex === undefined || hex === '') return undefined;
    const secret = Buffer.from(hex, 'hex');
    if (secret.length * 2 !== hex.length || ![16, 24, 32].includes(secret.length)) {
      throw new Error(`state store ${loaded.name}: ${metaName} must be a hex AES key of 128, 192 or 256 bits`);
    }
    const item = resource?.metadata.find((m) => m.name === metaName);
    return { name: item?.secretKeyRef?.name ?? '', algorithm: `aes-${secret.length * 8}-gcm` as CipherGCMTypes, secret };
  };
  const primary = key('primaryEncryptionKey');
  if (!primary) return undefined;
  return new StateEncryption(primary, key('secondaryEncryptionKey'));
}
