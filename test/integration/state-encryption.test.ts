// Automatic state encryption through a real sidecar: keys from a secret store (secretKeyRef),
// values stored in Dapr's encrypted form (base64 AES-GCM + "||" + key name, as a binary value),
// plaintext back through get, bulk get and transactions, and key rotation through
// secondaryEncryptionKey across a restart.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { startSidecar, stopProcess, tempDir, type SidecarProc } from '../helpers/processes.js';

const KEY_A = randomBytes(32).toString('hex');
const KEY_B = randomBytes(16).toString('hex');

function resources(db: string, primary: string, secondary?: string): Record<string, string> {
  return {
    'secrets.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: envsecrets
spec:
  type: secretstores.local.env
  version: v1
  metadata: []
`,
    'store.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: secure
spec:
  type: state.sqlite
  version: v1
  metadata:
  - name: connectionString
    value: "${db}"
  - name: primaryEncryptionKey
    secretKeyRef:
      name: ${primary}
${secondary ? `  - name: secondaryEncryptionKey\n    secretKeyRef:\n      name: ${secondary}\n` : ''}auth:
  secretStore: envsecrets
`,
  };
}

async function call(sc: SidecarProc, method: string, path: string, body?: unknown): Promise<{ status: number; text: string; json: any }> {
  const res = await fetch(sc.url + path, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

describe('state encryption', () => {
  it('stores ciphertext in Dapr\'s form and returns plaintext; rotates keys through secondaryEncryptionKey', async () => {
    const dir = tempDir('bulwark-enc-');
    const db = join(dir, 'secure.db');
    const env = { STATE_KEY_A: KEY_A, STATE_KEY_B: KEY_B };
    let sc = await startSidecar({ appId: 'enc', resources: resources(db, 'STATE_KEY_A'), env });

    expect((await call(sc, 'POST', '/v1.0/state/secure', [{ key: 'card', value: { number: '4111-1111', holder: 'Ada' } }])).status).toBe(204);
    const g = await call(sc, 'GET', '/v1.0/state/secure/card');
    expect(g.status).toBe(200);
    expect(g.json).toEqual({ number: '4111-1111', holder: 'Ada' });

    const raw = new Database(db, { readonly: true });
    const row = raw.prepare('SELECT value, is_binary FROM state WHERE key = ?').get('enc||card') as { value: string; is_binary: number };
    raw.close();
    // Binary value (base64 in the SQLite layout) whose bytes are "<base64 ciphertext>||<secret name>".
    expect(row.is_binary).toBe(1);
    const stored = Buffer.from(row.value, 'base64').toString();
    expect(stored).toMatch(/^[A-Za-z0-9+/=]+\|\|STATE_KEY_A$/);
    expect(stored).not.toContain('4111');

    await call(sc, 'POST', '/v1.0/state/secure/transaction', { operations: [{ operation: 'upsert', request: { key: 'tx', value: 'secret text' } }] });
    const bulk = await call(sc, 'POST', '/v1.0/state/secure/bulk', { keys: ['card', 'tx', 'none'] });
    expect(bulk.json.map((b: any) => b.data)).toEqual([{ number: '4111-1111', holder: 'Ada' }, 'secret text', undefined]);

    // Rotation: B becomes primary, A stays readable as the secondary.
    await stopProcess(sc);
    sc = await startSidecar({ appId: 'enc', resources: resources(db, 'STATE_KEY_B', 'STATE_KEY_A'), env });
    expect((await call(sc, 'GET', '/v1.0/state/secure/card')).json).toEqual({ number: '4111-1111', holder: 'Ada' });
    await call(sc, 'POST', '/v1.0/state/secure', [{ key: 'new', value: 1 }]);
    const raw2 = new Database(db, { readonly: true });
    const row2 = raw2.prepare('SELECT value FROM state WHERE key = ?').get('enc||new') as { value: string };
    raw2.close();
    expect(Buffer.from(row2.value, 'base64').toString()).toMatch(/\|\|STATE_KEY_B$/);

    // Without the old key, old values cannot be read: a clear ERR_STATE_GET, not garbage.
    await stopProcess(sc);
    sc = await startSidecar({ appId: 'enc', resources: resources(db, 'STATE_KEY_B'), env });
    const lost = await call(sc, 'GET', '/v1.0/state/secure/card');
    expect(lost.status).toBe(500);
    expect(lost.json.errorCode).toBe('ERR_STATE_GET');
    expect((await call(sc, 'GET', '/v1.0/state/secure/new')).json).toBe(1);
  });

  it('refuses a key that is not 128, 192 or 256 bits of hex at start-up', async () => {
    const dir = tempDir('bulwark-enc-');
    await expect(
      startSidecar({ appId: 'enc-bad', resources: resources(join(dir, 'x.db'), 'BAD_KEY'), env: { BAD_KEY: 'not-hex' } }),
    ).rejects.toThrow(/primaryEncryptionKey must be a hex AES key/);
  });
});
