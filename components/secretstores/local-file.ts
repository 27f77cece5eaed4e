// secretstores.local.file: a JSON file read once at init. Nested keys are flattened with
// `nestedSeparator` (default ":"); with `multiValued` each top-level key is one secret.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { meta, type ComponentContext } from '../../core/component.js';
import { SecretNotFoundError, type SecretStore } from '../../core/secrets/component.js';
import { isTruthy } from '../../resources/decode.js';

export async function createLocalFileSecretStore(ctx: ComponentContext): Promise<SecretStore> {
  const file = meta(ctx.metadata, 'secretsFile');
  if (!file) throw new Error('missing required metadata secretsFile');
  const separator = meta(ctx.metadata, 'nestedSeparator') || ':';
  const multiValued = isTruthy(meta(ctx.metadata, 'multiValued'));
  const path = resolve(ctx.cwd, file);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read secrets file ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`secrets file ${path} must hold a JSON object`);
  const secrets = new Map<string, Record<string, string>>();
  if (multiValued) {
    for (const [k, v] of Object.entries(json)) {
      if (typeof v === 'string') secrets.set(k, { [k]: v });
      else if (v && typeof v === 'object' && !Array.isArray(v)) secrets.set(k, Object.fromEntries(flatten(v, '', separator)));
    }
  } else {
    for (const [k, v] of flatten(json, '', separator)) {
      if (secrets.has(k)) throw new Error(`secrets file ${path}: duplicate secret name ${k}`);
      secrets.set(k, { [k]: v });
    }
  }
  return {
    async getSecret(name) {
      const s = secrets.get(name);
      if (!s) throw new SecretNotFoundError(name);
      return { ...s };
    },
    async bulkGetSecret() {
      return Object.fromEntries([...secrets].map(([k, v]) => [k, { ...v }]));
    },
  };
}

function flatten(value: unknown, prefix: string, sep: string, out: [string, string][] = []): [string, string][] {
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}${sep}${k}` : k, sep, out);
  } else if (value !== null && value !== undefined) {
    out.push([prefix, String(value)]);
  }
  return out;
}
