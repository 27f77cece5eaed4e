// The distributed lock block against every lock store (embedded lock.sqlite, lock.redis), each
// through two real sidecars sharing the store: 50 contenders see one owner at a time, only the
// owner unlocks, expiry frees the lock, keys follow Dapr's scheme; plus Dapr's error codes and
// the official SDK's HTTP lock client.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CommunicationProtocolEnum, DaprClient } from '@dapr/dapr';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, startSidecar, tempDir, type SidecarProc } from '../helpers/processes.js';
import { serviceAvailable, type ServiceName } from '../helpers/services.js';

interface StoreCase {
  type: string;
  service?: ServiceName;
  metadata(dir: string): string;
  /** Reads the owner stored under a full lock key straight from the backend. */
  ownerOf(dir: string, key: string): Promise<string | undefined>;
}

const STORES: StoreCase[] = [
  {
    type: 'lock.sqlite',
    metadata: (dir) => `\n  - name: connectionString\n    value: "${join(dir, 'lock.db')}"`,
    async ownerOf(dir, key) {
      const db = new Database(join(dir, 'lock.db'), { readonly: true });
      try {
        return (db.prepare('SELECT owner FROM locks WHERE key = ? AND expires_at > ?').get(key, Date.now()) as { owner: string } | undefined)?.owner;
      } finally {
        db.close();
      }
    },
  },
  {
    type: 'lock.redis',
    service: 'redis',
    metadata: () => `\n  - name: redisHost\n    value: "127.0.0.1:6379"`,
    async ownerOf(_dir, key) {
      const r = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
      await r.connect();
      try {
        return (await r.get(key)) ?? undefined;
      } finally {
        r.disconnect();
      }
    },
  },
];

function lockYaml(type: string, md: string, name = 'lockstore'): string {
  return `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: ${name}
spec:
  type: ${type}
  version: v1
  metadata:${md}
`;
}

async function post(sidecar: SidecarProc, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${sidecar.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const tryLock = (s: SidecarProc, resourceId: string, lockOwner: string, expiryInSeconds = 30, store = 'lockstore') =>
  post(s, `/v1.0-alpha1/lock/${store}`, { resourceId, lockOwner, expiryInSeconds });
const unlock = (s: SidecarProc, resourceId: string, lockOwner: string, store = 'lockstore') => post(s, `/v1.0-alpha1/unlock/${store}`, { resourceId, lockOwner });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const store of STORES) {
  describe(`lock conformance: ${store.type}`, () => {
    let available = true;
    let a: SidecarProc;
    let b: SidecarProc;
    const dir = tempDir('bulwark-lock-');
    const appId = `lockapp-${randomBytes(4).toString('hex')}`;

    beforeAll(async () => {
      if (store.service) available = await serviceAvailable(store.service);
      if (!available) return;
      const resources = { 'lock.yaml': lockYaml(store.type, store.metadata(dir)) + '---\n' + lockYaml(store.type, `${store.metadata(dir)}\n  - name: keyPrefix\n    value: name`, 'named') };
      [a, b] = await Promise.all([startSidecar({ appId, resources }), startSidecar({ appId, resources })]);
    });

    it('gives a free lock to exactly one of 50 simultaneous contenders', async (ctx) => {
      if (!available) return ctx.skip();
      const res = `race-${randomBytes(3).toString('hex')}`;
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => tryLock(i % 2 ? a : b, res, `owner-${i}`)));
      expect(results.every((r) => r.status === 200 && typeof r.body.success === 'boolean')).toBe(true);
      expect(results.filter((r) => r.body.success === true)).toHaveLength(1);
      expect(results.filter((r) => r.body.success === false)).toHaveLength(49);
    });

    it('lets 50 contenders through two sidecars hold the lock one at a time, each exactly once', async (ctx) => {
      if (!available) return ctx.skip();
      const res = `turns-${randomBytes(3).toString('hex')}`;
      let holder: string | null = null;
      let overlaps = 0;
      let acquisitions = 0;
      const contender = async (i: number): Promise<void> => {
        const owner = `c-${i}`;
        const sidecar = i % 2 ? a : b;
        for (;;) {
          const r = await tryLock(sidecar, res, owner, 30);
          expect(r.status).toBe(200);
          if (r.body.success === true) {
            if (holder !== null) overlaps++;
            holder = owner;
            acquisitions++;
            await sleep(5);
            holder = null;
            const u = await unlock(sidecar, res, owner);
            expect(u.body).toEqual({ status: 0 });
            return;
          }
          await sleep(20 + Math.random() * 40);
        }
      };
      await Promise.all(Array.from({ length: 50 }, (_, i) => contender(i)));
      expect(overlaps).toBe(0);
      expect(acquisitions).toBe(50);
    }, 120_000);

    it('unlocks only for the owner, with Dapr numeric statuses', async (ctx) => {
      if (!available) return ctx.skip();
      const res = `owner-${randomBytes(3).toString('hex')}`;
      expect((await unlock(a, res, 'nobody')).body).toEqual({ status: 1 });
      expect((await tryLock(a, res, 'alice')).body).toEqual({ success: true });
      expect((await tryLock(b, res, 'alice')).body).toEqual({ success: false });
      expect((await unlock(b, res, 'bob')).body).toEqual({ status: 2 });
      expect((await tryLock(b, res, 'bob')).body).toEqual({ success: false });
      expect((await unlock(b, res, 'alice')).body).toEqual({ status: 0 });
      expect((await unlock(a, res, 'alice')).body).toEqual({ status: 1 });
      expect((await tryLock(b, res, 'bob')).body).toEqual({ success: true });
    });

    it('frees a lock whose owner neither unlocks nor renews once it expires', async (ctx) => {
      if (!available) return ctx.skip();
      const res = `expiry-${randomBytes(3).toString('hex')}`;
      expect((await tryLock(a, res, 'sleepy', 1)).body).toEqual({ success: true });
      expect((await tryLock(b, res, 'waiting', 1)).body).toEqual({ success: false });
      await eventually(async () => (await tryLock(b, res, 'waiting', 30)).body.success === true, 15_000, 200);
      expect((await unlock(a, res, 'sleepy')).body).toEqual({ status: 2 });
    });

    it('stores keys as lock||<appId>||<id> by default and lock||<store>||<id> with keyPrefix name; refuses ||', async (ctx) => {
      if (!available) return ctx.skip();
      const res = `keys-${randomBytes(3).toString('hex')}`;
      expect((await tryLock(a, res, 'k1')).body).toEqual({ success: true });
      expect(await store.ownerOf(dir, `lock||${appId}||${res}`)).toBe('k1');
      expect((await tryLock(a, res, 'k2', 30, 'named')).body).toEqual({ success: true });
      expect(await store.ownerOf(dir, `lock||named||${res}`)).toBe('k2');
      const bad = await tryLock(a, 'a||b', 'k3');
      expect(bad.status).toBe(500);
      expect(bad.body.errorCode).toBe('ERR_TRY_LOCK');
      const badUnlock = await unlock(a, 'a||b', 'k3');
      expect(badUnlock.status).toBe(500);
      expect(badUnlock.body.errorCode).toBe('ERR_UNLOCK');
    });

    it('accepts snake_case protobuf-JSON fields and string integers', async (ctx) => {
      if (!available) return ctx.skip();
      const res = `snake-${randomBytes(3).toString('hex')}`;
      const r = await post(a, '/v1.0-alpha1/lock/lockstore', { resource_id: res, lock_owner: 's', expiry_in_seconds: '30' });
      expect(r).toEqual({ status: 200, body: { success: true } });
      expect((await post(a, '/v1.0-alpha1/unlock/lockstore', { resource_id: res, lock_owner: 's' })).body).toEqual({ status: 0 });
    });

    it('answers Dapr error codes for bad input', async (ctx) => {
      if (!available) return ctx.skip();
      const zero = await tryLock(a, 'r', 'o', 0);
      expect(zero.status).toBe(400);
      expect(zero.body).toMatchObject({ errorCode: 'ERR_MALFORMED_REQUEST', message: 'ExpiryInSeconds is not positive in lock store lockstore' });
      const noId = await tryLock(a, '', 'o');
      expect(noId.status).toBe(400);
      expect(noId.body).toMatchObject({ errorCode: 'ERR_MALFORMED_REQUEST', message: 'ResourceId is empty in lock store lockstore' });
      const noOwner = await unlock(a, 'r', '');
      expect(noOwner.status).toBe(400);
      expect(noOwner.body).toMatchObject({ errorCode: 'ERR_MALFORMED_REQUEST', message: 'LockOwner is empty in lock store lockstore' });
      const unknown = await tryLock(a, 'r', 'o', 10, 'nope');
      expect(unknown.status).toBe(400);
      expect(unknown.body).toMatchObject({ errorCode: 'ERR_LOCK_STORE_NOT_FOUND' });
      const unknownUnlock = await unlock(a, 'r', 'o', 'nope');
      expect(unknownUnlock.status).toBe(400);
      expect(unknownUnlock.body).toMatchObject({ errorCode: 'ERR_LOCK_STORE_NOT_FOUND' });
      const garbled = await post(a, '/v1.0-alpha1/lock/lockstore', '{"resourceId": ');
      expect(garbled.status).toBe(400);
      expect(garbled.body.errorCode).toBe('ERR_MALFORMED_REQUEST');
    });

    it('works through the official SDK HTTP client', async (ctx) => {
      if (!available) return ctx.skip();
      const client = new DaprClient({ daprHost: '127.0.0.1', daprPort: String(a.httpPort), communicationProtocol: CommunicationProtocolEnum.HTTP });
      const res = `sdk-${randomBytes(3).toString('hex')}`;
      expect(await client.lock.lock('lockstore', res, 'sdk-owner', 30)).toEqual({ success: true });
      expect(await client.lock.lock('lockstore', res, 'other', 30)).toEqual({ success: false });
      expect(await client.lock.unlock('lockstore', res, 'other')).toEqual({ status: 2 /* LockStatus.LockBelongsToOthers */ });
      expect(await client.lock.unlock('lockstore', res, 'sdk-owner')).toEqual({ status: 0 /* LockStatus.Success */ });
      expect(await client.lock.unlock('lockstore', res, 'sdk-owner')).toEqual({ status: 1 /* LockStatus.LockDoesNotExist */ });
      await client.stop();
    });
  });
}

describe('lock without lock stores', () => {
  it('answers ERR_LOCK_STORE_NOT_CONFIGURED, after the expiry check as Dapr orders it', async () => {
    const s = await startSidecar({ appId: 'nolock' });
    const r = await tryLock(s, 'r', 'o', 10);
    expect(r.status).toBe(500);
    expect(r.body.errorCode).toBe('ERR_LOCK_STORE_NOT_CONFIGURED');
    const u = await unlock(s, 'r', 'o');
    expect(u.status).toBe(500);
    expect(u.body.errorCode).toBe('ERR_LOCK_STORE_NOT_CONFIGURED');
    expect((await tryLock(s, 'r', 'o', -1)).status).toBe(400);
  });
});

describe('embedded defaults', () => {
  it('serves the lockstore (lock.sqlite) and configstore (configuration.sqlite) under BULWARK_HOME with no resources folder', async () => {
    const home = tempDir('bulwark-home-');
    const s = await startSidecar({ appId: 'defaults', embeddedDefaults: true, home });
    expect((await tryLock(s, 'r', 'o', 10)).body).toEqual({ success: true });
    expect((await unlock(s, 'r', 'o')).body).toEqual({ status: 0 });
    const db = new Database(join(home, 'configuration.db'));
    db.prepare('INSERT INTO configuration (key, value, version) VALUES (?, ?, ?)').run('greeting', 'hello', '1');
    db.close();
    const cfg = await fetch(`${s.url}/v1.0/configuration/configstore?key=greeting`);
    expect(await cfg.json()).toEqual({ greeting: { value: 'hello', version: '1' } });
    const meta = (await (await fetch(`${s.url}/v1.0/metadata`)).json()) as { components: Array<{ name: string; type: string }> };
    expect(meta.components.map((c) => `${c.name}=${c.type}`)).toEqual(expect.arrayContaining(['lockstore=lock.sqlite', 'configstore=configuration.sqlite']));
  });
});
