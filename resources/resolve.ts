// Turns metadata items into plain name -> value strings: envRef, then secretKeyRef through the
// resource's `auth.secretStore`, then the template tags {uuid}, {appID}, {namespace}, {podName}.
// Unlike daprd, which parks a component whose secret store is missing and leaves missing keys
// empty, we refuse to start: a reference that cannot be resolved names its file and field.
import { randomUUID } from 'node:crypto';
import { ResourceError } from './resource-error.js';
import type { MetadataItem, Origin } from './types.js';

export type SecretLookup = (store: string, name: string) => Promise<Record<string, string>>;

export interface ResolveContext {
  appId: string;
  /** NAMESPACE env value, when set. */
  namespace?: string;
  env: Readonly<Record<string, string | undefined>>;
  getSecret: SecretLookup;
}

export interface ResolveTarget {
  origin: Origin;
  /** Field path of the item list in the document, e.g. `spec.metadata`. */
  field: string;
  secretStore?: string;
}

export async function resolveMetadata(items: readonly MetadataItem[], target: ResolveTarget, ctx: ResolveContext): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const cache = new Map<string, Record<string, string>>();
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const fail = (sub: string, reason: string, cause?: unknown): never => {
      throw new ResourceError(target.origin.file, target.origin.doc, `${target.field}[${i}]${sub}`, reason, cause ? { cause } : undefined);
    };
    let value = item.value;
    if (value === undefined && item.envRef) value = readEnv(item.envRef, ctx.env);
    else if (value === undefined && item.secretKeyRef) {
      const ref = item.secretKeyRef;
      if (!target.secretStore) fail('.secretKeyRef', `secret ${ref.name} is referenced but the resource names no auth.secretStore`);
      let secret = cache.get(ref.name);
      if (!secret) {
        try {
          secret = await ctx.getSecret(target.secretStore!, ref.name);
        } catch (err) {
          fail('.secretKeyRef.name', `secret ${ref.name} from store ${target.secretStore}: ${(err as Error).message}`, err);
        }
        cache.set(ref.name, secret!);
      }
      const key = ref.key || ref.name;
      value = secret![key];
      if (value === undefined) fail('.secretKeyRef.key', `secret ${ref.name} in store ${target.secretStore} has no key ${key}`);
    }
    out[item.name] = expandTags(value ?? '', ctx, (reason) => fail('.value', reason));
  }
  return out;
}

const BLOCKED_ENV = (name: string): boolean => {
  const upper = name.toUpperCase();
  return upper === 'APP_API_TOKEN' || upper.startsWith('DAPR_') || name.includes(' ');
};

function readEnv(name: string, env: ResolveContext['env']): string {
  if (BLOCKED_ENV(name)) return '';
  const allow = env.DAPR_ENV_KEYS;
  if (allow && !allow.split(' ').includes(name)) return '';
  return env[name] ?? '';
}

export function expandTags(value: string, ctx: Pick<ResolveContext, 'appId' | 'namespace' | 'env'>, fail: (reason: string) => never): string {
  if (!value.includes('{')) return value;
  return value
    .replace(/\{uuid\}/g, () => randomUUID())
    .replace(/\{appID\}/g, ctx.appId)
    .replace(/\{namespace\}/g, `${ctx.namespace || 'default'}.${ctx.appId}`)
    .replace(/\{podName\}/g, () => ctx.env.POD_NAME || fail('{podName} needs the POD_NAME environment variable'));
}
