// crypto.dapr.jwks: keys from a JSON Web Key Set, looked up by `kid`. `jwks` is the set itself
// (JSON, or base64 of it), an http(s) URL (fetched with `requestTimeout`, re-fetched for an unknown
// kid at most every `minRefreshInterval`), or a file path.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { JWK } from 'jose';
import { meta, type ComponentContext } from '../../core/component.js';
import type { CryptoProvider } from '../../core/crypto/component.js';
import { parseGoDuration } from '../../resources/duration.js';
import { keyFromJwk, keyProvider, type KeyMaterial } from './key-material.js';

export async function createJwksCrypto(ctx: ComponentContext): Promise<CryptoProvider> {
  const source = meta(ctx.metadata, 'jwks')?.trim();
  if (!source) throw new Error('crypto.dapr.jwks: metadata property "jwks" is required');
  const timeoutMs = parseGoDuration(meta(ctx.metadata, 'requestTimeout') ?? '') ?? 30_000;
  const minRefreshMs = parseGoDuration(meta(ctx.metadata, 'minRefreshInterval') ?? '') ?? 10 * 60_000;
  const isUrl = /^https?:\/\//i.test(source);
  let keys = new Map<string, JWK>();
  let fetchedAt = 0;

  async function readSet(): Promise<Map<string, JWK>> {
    let text: string;
    if (isUrl) {
      const res = await fetch(source!, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) throw new Error(`failed to fetch JWKS: status ${res.status}`);
      text = await res.text();
    } else if (source!.startsWith('{')) {
      text = source!;
    } else {
      const decoded = /^[A-Za-z0-9+/=_-]+$/.test(source!) ? Buffer.from(source!, 'base64').toString('utf8') : '';
      text = decoded.trim().startsWith('{') ? decoded : await readFile(resolve(ctx.cwd, source!), 'utf8');
    }
    const set = JSON.parse(text) as { keys?: JWK[] };
    if (!Array.isArray(set.keys)) throw new Error('invalid JWKS: "keys" is missing');
    const out = new Map<string, JWK>();
    for (const k of set.keys) if (typeof k.kid === 'string') out.set(k.kid, k);
    fetchedAt = Date.now();
    return out;
  }

  keys = await readSet();

  async function load(kid: string): Promise<KeyMaterial> {
    let jwk = keys.get(kid);
    if (!jwk && isUrl && Date.now() - fetchedAt >= minRefreshMs) {
      keys = await readSet();
      jwk = keys.get(kid);
    }
    if (!jwk) throw new Error(`key not found: ${kid}`);
    return keyFromJwk(jwk);
  }

  return keyProvider(load);
}
