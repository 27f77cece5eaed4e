// crypto.dapr.localstorage: keys are files in the `path` folder, read on each use; the key name
// is the file name (a name with `..`, a separator or an absolute path is refused). `.json` is a
// JWK, `.pem` a PEM key, anything else is detected from its content.
import { readFile, realpath } from 'node:fs/promises';
import { extname, isAbsolute, resolve, sep } from 'node:path';
import { meta, type ComponentContext } from '../../core/component.js';
import type { CryptoProvider } from '../../core/crypto/component.js';
import { keyFromBytes, keyProvider, type KeyMaterial } from './key-material.js';

export async function createLocalStorageCrypto(ctx: ComponentContext): Promise<CryptoProvider> {
  const path = meta(ctx.metadata, 'path')?.trim();
  if (!path) throw new Error('crypto.dapr.localstorage: metadata property "path" is required');
  const root = await realpath(resolve(ctx.cwd, path));

  async function load(name: string): Promise<KeyMaterial> {
    if (!name || name.includes('..') || name.includes('/') || name.includes('\\') || isAbsolute(name)) throw new Error(`invalid key name: ${name}`);
    const file = await realpath(resolve(root, name)).catch(() => {
      throw new Error(`key not found: ${name}`);
    });
    if (!file.startsWith(root + sep)) throw new Error(`invalid key name: ${name}`);
    const ext = extname(name).toLowerCase();
    return keyFromBytes(await readFile(file), ext === '.json' ? 'json' : ext === '.pem' ? 'pem' : 'auto');
  }

  return keyProvider(load);
}
