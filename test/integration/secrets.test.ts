// The secrets building block through a real sidecar: local.file (flat, nested separator,
// multiValued), local.env (prefix, hidden names), Configuration secret scopes, secretKeyRef
// resolution in other components, and Dapr's error codes.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startSidecar, writeFolder } from '../helpers/processes.js';

const dir = writeFolder({
  'secrets.json': JSON.stringify({ db: { password: 'pw', user: 'admin' }, plain: 'v', list: ['a', 'b'] }),
  'multi.json': JSON.stringify({ redis: { host: 'h', port: '6379', tls: { ca: 'x' } }, single: 's', dropped: 5 }),
  'config.yaml': `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: scoped
spec:
  secrets:
    scopes:
    - storeName: flat
      defaultAccess: allow
      deniedSecrets: ["plain"]
    - storeName: multi
      defaultAccess: deny
      allowedSecrets: ["redis"]
`,
});

const RESOURCES = {
  'flat.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: flat
spec:
  type: secretstores.local.file
  version: v1
  metadata:
  - name: secretsFile
    value: ${join(dir, 'secrets.json')}
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: nested
spec:
  type: secretstores.local.file
  version: v1
  metadata:
  - name: SecretsFile          # keys are case-insensitive
    value: ${join(dir, 'secrets.json')}
  - name: nestedSeparator
    value: "."
`,
  'multi.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: multi
spec:
  type: secretstores.local.file
  version: v1
  metadata:
  - name: secretsFile
    value: ${join(dir, 'multi.json')}
  - name: multiValued
    value: on                  # YAML 1.1: a boolean, which Dapr reads as "true"
`,
  'env.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: env
spec:
  type: secretstores.local.env
  version: v1
  metadata:
  - name: prefix
    value: BWTEST_
`,
  // A component whose metadata comes from a secret of another store, resolved at start-up.
  'ref.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: fromref
spec:
  type: secretstores.local.env
  version: v1
  metadata:
  - name: prefix
    secretKeyRef:
      name: "db:user"
auth:
  secretStore: flat
`,
};

describe('secrets', async () => {
  const sc = await startSidecar({
    appId: 'secrets-app',
    resources: RESOURCES,
    args: ['--config', join(dir, 'config.yaml')],
    env: { BWTEST_API_KEY: 'k1', BWTEST_OTHER: 'k2', DAPR_SECRET_THING: 'hidden', adminAPI_KEY: 'via-ref' },
  });
  const get = async (path: string): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`${sc.url}${path}`);
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };

  it('flattens nested JSON with ":" and serves one key per secret', async () => {
    expect(await get('/v1.0/secrets/flat/db:password')).toEqual({ status: 200, body: { 'db:password': 'pw' } });
    expect(await get('/v1.0/secrets/flat/list:1')).toEqual({ status: 200, body: { 'list:1': 'b' } });
    expect(await get('/v1.0/secrets/nested/db.user')).toEqual({ status: 200, body: { 'db.user': 'admin' } });
  });

  it('serves multi-valued secrets as maps and drops non-object values', async () => {
    expect(await get('/v1.0/secrets/multi/redis')).toEqual({ status: 200, body: { host: 'h', port: '6379', 'tls:ca': 'x' } });
    expect(await get('/v1.0/secrets/multi/bulk')).toEqual({ status: 200, body: { redis: { host: 'h', port: '6379', 'tls:ca': 'x' } } });
  });

  it('enforces Configuration secret scopes', async () => {
    const denied = await get('/v1.0/secrets/flat/plain');
    expect(denied.status).toBe(403);
    expect(denied.body).toEqual({ errorCode: 'ERR_PERMISSION_DENIED', message: 'access denied by policy to get "plain" from "flat"' });
    expect((await get('/v1.0/secrets/multi/single')).status).toBe(403);
    // Bulk leaves denied secrets out silently.
    const bulk = await get('/v1.0/secrets/flat/bulk');
    expect(bulk.status).toBe(200);
    expect(Object.keys(bulk.body as object).sort()).toEqual(['db:password', 'db:user', 'list:0', 'list:1']);
  });

  it('reads prefixed environment variables and never DAPR_ ones', async () => {
    expect(await get('/v1.0/secrets/env/API_KEY')).toEqual({ status: 200, body: { API_KEY: 'k1' } });
    expect(await get('/v1.0/secrets/env/MISSING')).toEqual({ status: 200, body: { MISSING: '' } });
    const bulk = (await get('/v1.0/secrets/env/bulk')).body as Record<string, unknown>;
    expect(bulk).toEqual({ API_KEY: { API_KEY: 'k1' }, OTHER: { OTHER: 'k2' } });
  });

  it('resolves secretKeyRef in another component at start-up', async () => {
    // fromref's prefix is the value of flat's "db:user" secret: "admin".
    expect(await get('/v1.0/secrets/fromref/API_KEY')).toEqual({ status: 200, body: { API_KEY: 'via-ref' } });
  });

  it('answers Dapr error codes for unknown stores and secrets', async () => {
    expect(await get('/v1.0/secrets/nope/x')).toEqual({ status: 401, body: { errorCode: 'ERR_SECRET_STORE_NOT_FOUND', message: 'failed finding secret store with key nope' } });
    const missing = await get('/v1.0/secrets/flat/absent');
    expect(missing.status).toBe(500);
    expect(missing.body).toEqual({ errorCode: 'ERR_SECRET_GET', message: 'failed getting secret with key absent from secret store flat: secret absent not found' });
  });
});

describe('secrets without stores', async () => {
  const sc = await startSidecar({ appId: 'no-secrets' });
  it('answers ERR_SECRET_STORES_NOT_CONFIGURED', async () => {
    const res = await fetch(`${sc.url}/v1.0/secrets/any/key`);
    expect(res.status).toBe(500);
    expect((await res.json()).errorCode).toBe('ERR_SECRET_STORES_NOT_CONFIGURED');
  });
});
