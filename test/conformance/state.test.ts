// One state-store suite, written once and run unchanged against every store bulwark ships,
// through a real sidecar's HTTP API. Tests are gated by the features the store declares in
// GET /v1.0/metadata, and an undeclared feature must be refused. Where a store keeps data we can
// read directly (SQLite file, Redis, PostgreSQL), the raw layout is checked against Dapr's and
// data written in Dapr's layout is read back through the sidecar.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startSidecar, stopProcess, tempDir, type SidecarProc } from '../helpers/processes.js';
import { serviceAvailable, type ServiceName } from '../helpers/services.js';

/** Direct access to a backend, in Dapr's layout, bypassing the sidecar. */
interface Raw {
  /** Writes a JSON value under a store key the way a Dapr sidecar would. */
  put(storeKey: string, json: string): Promise<void>;
  /** The stored JSON text and ETag of a store key, or undefined. */
  read(storeKey: string): Promise<{ value: string; etag: string } | undefined>;
  close(): Promise<void>;
}

interface Backend {
  type: string;
  /** spec.version; 'v1' when absent. */
  version?: string;
  service?: ServiceName;
  persistent: boolean;
  /** ETags are integers: a non-integer one is refused as invalid (400) rather than a mismatch. */
  numericETag: boolean;
  /** Component metadata lines (YAML) for a store; `tag` makes tables/files unique to this run. */
  metadata(tag: string, dir: string): string;
  raw?(tag: string, dir: string): Promise<Raw>;
}

const RUN = randomUUID().slice(0, 8);

const BACKENDS: Backend[] = [
  {
    type: 'state.in-memory',
    persistent: false,
    numericETag: false,
    metadata: () => '[]',
  },
  {
    type: 'state.sqlite',
    persistent: true,
    numericETag: false,
    metadata: (tag, dir) => `\n  - name: connectionString\n    value: "${join(dir, `${tag}.db`)}"`,
    raw: async (tag, dir) => {
      const db = new Database(join(dir, `${tag}.db`));
      return {
        put: async (key, json) => {
          db.prepare(`INSERT OR REPLACE INTO state (key, value, is_binary, etag, update_time) VALUES (?, ?, 0, ?, CURRENT_TIMESTAMP)`).run(key, json, randomUUID());
        },
        read: async (key) => db.prepare('SELECT value, etag FROM state WHERE key = ?').get(key) as { value: string; etag: string } | undefined,
        close: async () => void db.close(),
      };
    },
  },
  {
    type: 'state.redis',
    service: 'redis',
    persistent: true,
    numericETag: true,
    metadata: () => `\n  - name: redisHost\n    value: "127.0.0.1:6379"`,
    raw: async () => {
      const r = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
      await r.connect();
      return {
        put: async (key, json) => {
          await r.hset(key, 'data', json, 'version', '7');
        },
        read: async (key) => {
          const h = await r.hgetall(key);
          return h.data === undefined ? undefined : { value: h.data, etag: h.version! };
        },
        close: async () => {
          // This run's keys all carry RUN (in the app id or the key itself).
          let cursor = '0';
          do {
            const [next, keys] = await r.scan(cursor, 'MATCH', `*${RUN}*`, 'COUNT', 1000);
            if (keys.length > 0) await r.del(...keys);
            cursor = next;
          } while (cursor !== '0');
          r.disconnect();
        },
      };
    },
  },
  {
    type: 'state.postgresql',
    service: 'postgres',
    persistent: true,
    numericETag: true,
    metadata: (tag) =>
      `\n  - name: connectionString\n    value: "host=127.0.0.1 port=5432 user=postgres database=test"\n  - name: tableName\n    value: "${tag}"`,
    raw: async (tag) => {
      const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
      await c.connect();
      return {
        put: async (key, json) => {
          await c.query(`INSERT INTO ${tag} (key, value, isbinary) VALUES ($1, $2::jsonb, false) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [key, json]);
        },
        read: async (key) => {
          const r = await c.query<{ value: string; etag: string }>(`SELECT value::text AS value, xmin::text AS etag FROM ${tag} WHERE key = $1`, [key]);
          return r.rows[0];
        },
        close: async () => {
          await c.query(`DROP TABLE IF EXISTS ${tag}`).catch(() => undefined);
          await c.end();
        },
      };
    },
  },
  {
    type: 'state.postgresql',
    version: 'v2',
    service: 'postgres',
    persistent: true,
    numericETag: false,
    metadata: (tag) =>
      `\n  - name: connectionString\n    value: "host=127.0.0.1 port=5432 user=postgres database=test"\n  - name: tablePrefix\n    value: "${tag}_"`,
    raw: async (tag) => {
      const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
      await c.connect();
      const table = `${tag}_state`;
      return {
        put: async (key, json) => {
          await c.query(`INSERT INTO ${table} (key, value) VALUES ($1, convert_to($2, 'UTF8')) ON CONFLICT (key) DO UPDATE SET value = excluded.value, etag = gen_random_uuid()`, [key, json]);
        },
        read: async (key) => {
          const r = await c.query<{ value: string; etag: string }>(`SELECT convert_from(value, 'UTF8') AS value, etag::text AS etag FROM ${table} WHERE key = $1`, [key]);
          return r.rows[0];
        },
        close: async () => {
          await c.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
          await c.query(`DELETE FROM dapr_metadata WHERE key = $1`, [`migrations-state-v2-${tag}_`]).catch(() => undefined);
          await c.end();
        },
      };
    },
  },
];

function component(name: string, type: string, md: string, extra = '', version = 'v1'): string {
  return `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: ${name}
spec:
  type: ${type}
  version: ${version}
  metadata:${(md === '[]' ? '' : md) + extra || ' []'}
---
`;
}

async function call(sc: SidecarProc, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; text: string; json: any; headers: Headers }> {
  const res = await fetch(sc.url + path, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, headers: res.headers };
}

for (const backend of BACKENDS) {
  const label = `${backend.type.split('.')[1]}${backend.version ? `-${backend.version}` : ''}`;
  describe(`state conformance: ${backend.type}${backend.version ? `/${backend.version}` : ''}`, () => {
    const appId = `conf-${label}-${RUN}`;
    const tag = `bulwark_conf_${label.replace('-', '_')}_${RUN}`;
    const dir = tempDir('bulwark-state-');
    const home = tempDir('bulwark-home-');
    const md = backend.metadata(tag, dir);
    const resources = {
      'stores.yaml':
        component('store', backend.type, md, '', backend.version) +
        // Same backend, other key prefixes. In-memory stores are separate maps anyway.
        component('byname', backend.type, md, `\n  - name: keyPrefix\n    value: name`, backend.version) +
        component('noprefix', backend.type, md, `\n  - name: keyPrefix\n    value: none`, backend.version) +
        component('custom', backend.type, md, `\n  - name: keyPrefix\n    value: MyPrefix`, backend.version),
    };
    let sc: SidecarProc;
    let features: string[] = [];
    let raw: Raw | undefined;
    let available = true;

    beforeAll(async () => {
      if (backend.service) available = await serviceAvailable(backend.service);
      if (!available) return;
      sc = await startSidecar({ appId, resources, home });
      const m = await call(sc, 'GET', '/v1.0/metadata');
      const comp = (m.json.components as Array<{ name: string; capabilities: string[] }>).find((c) => c.name === 'store')!;
      features = comp.capabilities;
      raw = await backend.raw?.(tag, dir);
    });

    afterAll(async () => {
      await raw?.close();
    });

    const has = (f: string): boolean => features.includes(f);
    const save = (items: unknown, store = 'store', query = ''): ReturnType<typeof call> => call(sc, 'POST', `/v1.0/state/${store}${query}`, items);
    const get = (key: string, store = 'store'): ReturnType<typeof call> => call(sc, 'GET', `/v1.0/state/${store}/${encodeURIComponent(key)}`);

    it('declares its features in metadata', ({ skip }) => {
      if (!available) skip();
      expect(features).toEqual(expect.arrayContaining(['ETAG', 'TRANSACTIONAL', 'TTL']));
      expect(features).not.toContain('ACTOR');
    });

    it('saves, gets, overwrites and deletes; a missing key is 204', async ({ skip }) => {
      if (!available) skip();
      expect((await save([{ key: 'crud', value: { name: 'Ada', n: 1 } }, { key: 'str', value: 'abc' }])).status).toBe(204);
      const g = await get('crud');
      expect(g.status).toBe(200);
      expect(g.headers.get('content-type')).toBe('application/json');
      expect(g.json).toEqual({ name: 'Ada', n: 1 });
      if (has('ETAG')) expect(g.headers.get('etag')).toBeTruthy();
      // A JSON string is stored with its quotes and comes back as JSON.
      expect((await get('str')).text).toBe('"abc"');
      expect((await save([{ key: 'crud', value: [1, 2, 3] }])).status).toBe(204);
      expect((await get('crud')).json).toEqual([1, 2, 3]);
      expect((await call(sc, 'DELETE', '/v1.0/state/store/crud')).status).toBe(204);
      const gone = await get('crud');
      expect(gone.status).toBe(204);
      expect(gone.text).toBe('');
      // Deleting a missing key succeeds.
      expect((await call(sc, 'DELETE', '/v1.0/state/store/never-there')).status).toBe(204);
      // An empty list is a no-op.
      expect((await save([])).status).toBe(204);
    });

    it('bulk get returns one entry per key in order, `data` and etag, only `key` for missing ones', async ({ skip }) => {
      if (!available) skip();
      const keys = Array.from({ length: 12 }, (_, i) => `bulk-${i}`);
      expect((await save(keys.map((k, i) => ({ key: k, value: { i } })))).status).toBe(204);
      const res = await call(sc, 'POST', '/v1.0/state/store/bulk', { keys: [...keys, 'bulk-missing'], parallelism: 3 });
      expect(res.status).toBe(200);
      expect(res.json).toHaveLength(13);
      res.json.slice(0, 12).forEach((item: any, i: number) => {
        expect(item.key).toBe(`bulk-${i}`);
        expect(item.data).toEqual({ i });
        if (has('ETAG')) expect(typeof item.etag).toBe('string');
      });
      expect(res.json[12]).toEqual({ key: 'bulk-missing' });
      const put = await call(sc, 'PUT', '/v1.0/state/store/bulk', { keys: [] });
      expect(put.status).toBe(200);
      expect(put.json).toEqual([]);
    });

    it('last-write: saves without an ETag always win', async ({ skip }) => {
      if (!available) skip();
      for (const v of [1, 2, 3]) expect((await save([{ key: 'lw', value: v, options: { concurrency: 'last-write' } }])).status).toBe(204);
      expect((await get('lw')).json).toBe(3);
    });

    it('first-write with an ETag: the current ETag wins, a stale one is 409', async ({ skip }) => {
      if (!available || !has('ETAG')) skip();
      await save([{ key: 'fw', value: 'v1' }]);
      const etag = (await get('fw')).headers.get('etag')!;
      const ok = await save([{ key: 'fw', value: 'v2', etag, options: { concurrency: 'first-write' } }]);
      expect(ok.status).toBe(204);
      const now = await get('fw');
      expect(now.json).toBe('v2');
      expect(now.headers.get('etag')).not.toBe(etag);
      const stale = await save([{ key: 'fw', value: 'v3', etag, options: { concurrency: 'first-write' } }]);
      expect(stale.status).toBe(409);
      expect(stale.json.errorCode).toBe('ERR_STATE_SAVE');
      expect((await get('fw')).json).toBe('v2');
    });

    it('first-write without an ETag: the first write creates, the second is 409', async ({ skip }) => {
      if (!available || !has('ETAG')) skip();
      const key = `fw-new-${randomUUID()}`;
      expect((await save([{ key, value: 1, options: { concurrency: 'first-write' } }])).status).toBe(204);
      const again = await save([{ key, value: 2, options: { concurrency: 'first-write' } }]);
      expect(again.status).toBe(409);
      expect((await get(key)).json).toBe(1);
    });

    it('delete with If-Match: a wrong ETag is 409 and keeps the value, the right one deletes', async ({ skip }) => {
      if (!available || !has('ETAG')) skip();
      await save([{ key: 'del-etag', value: 'x' }]);
      const etag = (await get('del-etag')).headers.get('etag')!;
      const wrong = await call(sc, 'DELETE', '/v1.0/state/store/del-etag', undefined, { 'if-match': backend.numericETag ? '999999' : 'not-the-etag' });
      expect(wrong.status).toBe(409);
      expect(wrong.json.errorCode).toBe('ERR_STATE_DELETE');
      expect((await get('del-etag')).status).toBe(200);
      expect((await call(sc, 'DELETE', '/v1.0/state/store/del-etag', undefined, { 'if-match': etag })).status).toBe(204);
      expect((await get('del-etag')).status).toBe(204);
    });

    it('a malformed ETag is refused with ERR_STATE_SAVE (400 where ETags are numbers, else a 409 mismatch)', async ({ skip }) => {
      if (!available || !has('ETAG')) skip();
      await save([{ key: 'bad-etag', value: 1 }]);
      const res = await save([{ key: 'bad-etag', value: 2, etag: 'not-a-number' }]);
      expect(res.json.errorCode).toBe('ERR_STATE_SAVE');
      expect(res.status).toBe(backend.numericETag ? 400 : 409);
    });

    it('100 parallel first-write writers with the same ETag: exactly one wins', async ({ skip }) => {
      if (!available || !has('ETAG')) skip();
      await save([{ key: 'race', value: { w: -1 } }]);
      const etag = (await get('race')).headers.get('etag')!;
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, w) => save([{ key: 'race', value: { w }, etag, options: { concurrency: 'first-write' } }])),
      );
      const winners = results.map((r, w) => (r.status === 204 ? w : -1)).filter((w) => w >= 0);
      expect(winners).toHaveLength(1);
      expect(results.filter((r) => r.status === 409)).toHaveLength(99);
      const after = await get('race');
      expect(after.json).toEqual({ w: winners[0] });
      expect(after.headers.get('etag')).not.toBe(etag);
    });

    it('100 parallel first-write creators of a new key without an ETag: exactly one wins', async ({ skip }) => {
      if (!available || !has('ETAG')) skip();
      const key = `race-new-${randomUUID()}`;
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, w) => save([{ key, value: { w }, options: { concurrency: 'first-write' } }])),
      );
      const winners = results.map((r, w) => (r.status === 204 ? w : -1)).filter((w) => w >= 0);
      expect(winners).toHaveLength(1);
      expect(results.filter((r) => r.status === 409)).toHaveLength(99);
      expect((await get(key)).json).toEqual({ w: winners[0] });
    });

    it('TTL: the value carries ttlExpireTime, then expires; -1 never expires', async ({ skip }) => {
      if (!available || !has('TTL')) skip();
      const before = Date.now();
      expect((await save([{ key: 'ttl', value: 'soon', metadata: { ttlInSeconds: '2' } }])).status).toBe(204);
      const g = await get('ttl');
      // A slow machine may already be past the deadline; then the value must be gone.
      if (g.status === 200) {
        const exp = Date.parse(g.headers.get('metadata.ttlExpireTime')!);
        expect(exp).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
        expect(exp).toBeLessThanOrEqual(Date.now() + 3000);
        const b = await call(sc, 'POST', '/v1.0/state/store/bulk', { keys: ['ttl'] });
        if (b.json[0].data !== undefined) expect(b.json[0].metadata.ttlExpireTime).toBeTruthy();
      }
      await eventually(async () => (await get('ttl')).status === 204, 15_000, 200);
      // Query-string metadata applies too, and -1 means no expiry.
      expect((await save([{ key: 'ttl-never', value: 1 }], 'store', '?metadata.ttlInSeconds=-1')).status).toBe(204);
      const never = await get('ttl-never');
      expect(never.status).toBe(200);
      expect(never.headers.get('metadata.ttlExpireTime')).toBeNull();
      const bad = await save([{ key: 'ttl-bad', value: 1, metadata: { ttlInSeconds: 'soon' } }]);
      expect(bad.status).toBe(500);
      expect(bad.json.errorCode).toBe('ERR_STATE_SAVE');
    });

    it('transactions apply upserts and deletes together', async ({ skip }) => {
      if (!available || !has('TRANSACTIONAL')) skip();
      await save([{ key: 'tx-old', value: 'old' }]);
      const res = await call(sc, 'POST', '/v1.0/state/store/transaction', {
        operations: [
          { operation: 'upsert', request: { key: 'tx-a', value: { a: 1 } } },
          { operation: 'upsert', request: { key: 'tx-b', value: 'b', metadata: { ttlInSeconds: '3600' } } },
          { operation: 'delete', request: { key: 'tx-old' } },
        ],
      });
      expect(res.status).toBe(204);
      expect((await get('tx-a')).json).toEqual({ a: 1 });
      expect((await get('tx-b')).json).toBe('b');
      expect((await get('tx-old')).status).toBe(204);
      expect((await call(sc, 'PUT', '/v1.0/state/store/transaction', { operations: [] })).status).toBe(204);
    });

    it('a transaction with one failing operation writes nothing', async ({ skip }) => {
      if (!available || !has('TRANSACTIONAL') || !has('ETAG')) skip();
      await save([{ key: 'atom-keep', value: 'keep' }, { key: 'atom-guard', value: 'guard' }]);
      const keepEtag = (await get('atom-keep')).headers.get('etag');
      const stale = backend.numericETag ? '987654' : 'stale-etag';
      const res = await call(sc, 'POST', '/v1.0/state/store/transaction', {
        operations: [
          { operation: 'upsert', request: { key: 'atom-new', value: 'should not exist' } },
          { operation: 'delete', request: { key: 'atom-keep' } },
          { operation: 'upsert', request: { key: 'atom-guard', value: 'changed', etag: stale } },
        ],
      });
      expect(res.status).toBe(500);
      expect(res.json.errorCode).toBe('ERR_STATE_TRANSACTION');
      expect((await get('atom-new')).status).toBe(204);
      const keep = await get('atom-keep');
      expect(keep.json).toBe('keep');
      expect(keep.headers.get('etag')).toBe(keepEtag);
      expect((await get('atom-guard')).json).toBe('guard');
    });

    it('stores 1 MB values intact', async ({ skip }) => {
      if (!available) skip();
      const big = { blob: 'x'.repeat(1024 * 1024), tail: 'é🚀' };
      expect((await save([{ key: 'big', value: big }])).status).toBe(204);
      const g = await get('big');
      expect(g.status).toBe(200);
      expect(g.json).toEqual(big);
    });

    it('unicode keys and keys with slashes round-trip through get, bulk get and delete', async ({ skip }) => {
      if (!available) skip();
      const keys = ['ключ', '日本語/キー', 'emoji-🚀-key', 'a/b/c', 'space key'];
      expect((await save(keys.map((key, i) => ({ key, value: i })))).status).toBe(204);
      for (const [i, key] of keys.entries()) expect((await get(key)).json).toBe(i);
      const b = await call(sc, 'POST', '/v1.0/state/store/bulk', { keys });
      expect(b.json.map((x: any) => x.key)).toEqual(keys);
      expect(b.json.map((x: any) => x.data)).toEqual([0, 1, 2, 3, 4]);
      // Unencoded slashes, as the official SDKs send them.
      expect((await call(sc, 'GET', '/v1.0/state/store/a/b/c')).json).toBe(3);
      expect((await call(sc, 'DELETE', `/v1.0/state/store/${encodeURIComponent('ключ')}`)).status).toBe(204);
      expect((await get('ключ')).status).toBe(204);
    });

    it('key prefixes: appid by default, name, none and custom keep their data apart', async ({ skip }) => {
      if (!available) skip();
      const key = `prefixed-${RUN}`;
      for (const [store, v] of [['store', 'appid'], ['byname', 'name'], ['noprefix', 'none'], ['custom', 'custom']] as const) {
        expect((await save([{ key, value: v }], store)).status).toBe(204);
      }
      for (const [store, v] of [['store', 'appid'], ['byname', 'name'], ['noprefix', 'none'], ['custom', 'custom']] as const) {
        expect((await get(key, store)).json).toBe(v);
      }
      if (!raw) return;
      // The keys the backend sees, byte for byte as Dapr builds them (custom prefixes are lower-cased).
      expect(JSON.parse((await raw.read(`${appId}||${key}`))!.value)).toBe('appid');
      expect(JSON.parse((await raw.read(`byname||${key}`))!.value)).toBe('name');
      expect(JSON.parse((await raw.read(key))!.value)).toBe('none');
      expect(JSON.parse((await raw.read(`myprefix||${key}`))!.value)).toBe('custom');
      // Bulk get strips the prefix.
      const b = await call(sc, 'POST', '/v1.0/state/byname/bulk', { keys: [key] });
      expect(b.json[0].key).toBe(key);
    });

    // Only stores whose data we can reach directly (all but in-memory).
    if (backend.raw) it('reads data written in Dapr\'s layout, and writes what Dapr reads', async ({ skip }) => {
      if (!available) skip();
      await raw!.put(`${appId}||from-dapr`, '{"written":"by dapr","n":7}');
      const g = await get('from-dapr');
      expect(g.status).toBe(200);
      expect(g.json).toEqual({ written: 'by dapr', n: 7 });
      const etag = g.headers.get('etag')!;
      expect(etag).toBe((await raw!.read(`${appId}||from-dapr`))!.etag);
      // An update with that ETag works, and bumps it in the store itself.
      expect((await save([{ key: 'from-dapr', value: { n: 8 }, etag }])).status).toBe(204);
      const stored = (await raw!.read(`${appId}||from-dapr`))!;
      expect(JSON.parse(stored.value)).toEqual({ n: 8 });
      expect(stored.etag).not.toBe(etag);
    });

    it('query: refused unless QUERY_API is declared; filters, sorts and pages where it is', async ({ skip }) => {
      if (!available) skip();
      if (!has('QUERY_API')) {
        const res = await call(sc, 'POST', '/v1.0-alpha1/state/store/query', { filter: {} });
        expect(res.status).toBe(500);
        expect(res.json.errorCode).toBe('ERR_STATE_STORE_NOT_SUPPORTED');
        expect(res.json.details[0].reason).toBe('DAPR_STATE_QUERYING_NOT_SUPPORTED');
        return;
      }
      const people = [
        { id: 1, city: 'Oslo', team: 'red', age: 31 },
        { id: 2, city: 'Lima', team: 'blue', age: 25 },
        { id: 3, city: 'Oslo', team: 'blue', age: 42 },
        { id: 4, city: 'Pune', team: 'red', age: 19 },
        { id: 5, city: 'Oslo', team: 'green', age: 55 },
      ];
      await save(people.map((p) => ({ key: `person-${p.id}`, value: { person: p }, metadata: { contentType: 'application/json' } })));
      const q = async (query: unknown): Promise<any> => call(sc, 'POST', '/v1.0-alpha1/state/store/query', query);
      const ids = (res: any): number[] => res.json.results.map((r: any) => r.data.person.id);

      const eq = await q({ filter: { EQ: { 'person.city': 'Oslo' } }, sort: [{ key: 'person.id' }] });
      expect(eq.status).toBe(200);
      expect(ids(eq)).toEqual([1, 3, 5]);
      expect(eq.json.results[0].key).toBe('person-1');
      expect(typeof eq.json.results[0].etag).toBe('string');

      const inq = await q({ filter: { IN: { 'person.city': ['Lima', 'Pune'] } }, sort: [{ key: 'person.age', order: 'DESC' }] });
      expect(ids(inq)).toEqual([2, 4]);

      const and = await q({ filter: { AND: [{ EQ: { 'person.city': 'Oslo' } }, { EQ: { 'person.team': 'blue' } }] } });
      expect(ids(and)).toEqual([3]);

      const or = await q({ filter: { OR: [{ EQ: { 'person.team': 'green' } }, { AND: [{ EQ: { 'person.city': 'Pune' } }, { GT: { 'person.age': 18 } }] }] }, sort: [{ key: 'person.id', order: 'ASC' }] });
      expect(ids(or)).toEqual([4, 5]);

      // Paging: a limit gives a token that continues where the page ended.
      const page1 = await q({ filter: { EQ: { 'person.city': 'Oslo' } }, sort: [{ key: 'person.age', order: 'DESC' }], page: { limit: 2 } });
      expect(ids(page1)).toEqual([5, 3]);
      expect(page1.json.token).toBe('2');
      const page2 = await q({ filter: { EQ: { 'person.city': 'Oslo' } }, sort: [{ key: 'person.age', order: 'DESC' }], page: { limit: 2, token: page1.json.token } });
      expect(ids(page2)).toEqual([1]);

      const none = await q({ filter: { EQ: { 'person.city': 'Nowhere' } } });
      expect(none.status).toBe(204);

      const bad = await q({ filter: { AND: [{ EQ: { a: 1 } }] } });
      expect(bad.status).toBe(500);
      expect(bad.json.errorCode).toBe('ERR_STATE_QUERY');
      const badJson = await q('{"filter":');
      expect(badJson.json.errorCode).toBe('ERR_STATE_QUERY');
    });

    it('refuses bad input with Dapr\'s codes', async ({ skip }) => {
      if (!available) skip();
      const unknown = await call(sc, 'GET', '/v1.0/state/nope/k');
      expect(unknown.status).toBe(400);
      expect(unknown.json.errorCode).toBe('ERR_STATE_STORE_NOT_FOUND');
      expect(unknown.json.details[0].reason).toBe('DAPR_STATE_NOT_FOUND');
      expect((await save([{ key: 'k' }], 'nope')).json.errorCode).toBe('ERR_STATE_STORE_NOT_FOUND');

      const notJson = await save('[{"key":');
      expect(notJson.status).toBe(400);
      expect(notJson.json.errorCode).toBe('ERR_MALFORMED_REQUEST');
      const notList = await save({ key: 'k', value: 1 });
      expect(notList.status).toBe(400);
      expect(notList.json.errorCode).toBe('ERR_MALFORMED_REQUEST');
      const noKey = await save([{ value: 1 }]);
      expect(noKey.status).toBe(400);
      expect(noKey.json.message).toBe('"key" is a required field');
      const numericEtag = await save([{ key: 'k', value: 1, etag: 5 }]);
      expect(numericEtag.status).toBe(400);
      expect(numericEtag.json.errorCode).toBe('ERR_MALFORMED_REQUEST');

      const illegal = await save([{ key: 'a||b', value: 1 }]);
      expect(illegal.status).toBe(400);
      expect(illegal.json.errorCode).toBe('ERR_MALFORMED_REQUEST');
      expect(illegal.json.details[0].reason).toBe('DAPR_STATE_ILLEGAL_KEY');
      expect((await call(sc, 'GET', `/v1.0/state/store/${encodeURIComponent('a||b')}`)).status).toBe(400);

      const badConcurrency = await save([{ key: 'k', value: 1, options: { concurrency: 'sometimes' } }]);
      expect(badConcurrency.json.errorCode).toBe('ERR_STATE_SAVE');

      const badOp = await call(sc, 'POST', '/v1.0/state/store/transaction', { operations: [{ operation: 'merge', request: { key: 'k' } }] });
      expect(badOp.status).toBe(400);
      expect(badOp.json.errorCode).toBe('ERR_NOT_SUPPORTED_STATE_OPERATION');
      const badTx = await call(sc, 'POST', '/v1.0/state/store/transaction', '{"operations": 5}');
      expect(badTx.status).toBe(400);
      expect(badTx.json.errorCode).toBe('ERR_MALFORMED_REQUEST');
      const badBulk = await call(sc, 'POST', '/v1.0/state/store/bulk', { keys: 'k' });
      expect(badBulk.status).toBe(400);
    });

    it(backend.persistent ? 'keeps its data across a sidecar restart' : 'starts empty after a sidecar restart (data lives in the process)', async ({ skip }) => {
      if (!available) skip();
      await save([{ key: 'durable', value: { kept: true } }]);
      const etag = (await get('durable')).headers.get('etag');
      await stopProcess(sc);
      sc = await startSidecar({ appId, resources, home });
      const g = await get('durable');
      if (!backend.persistent) {
        expect(g.status).toBe(204);
        return;
      }
      expect(g.status).toBe(200);
      expect(g.json).toEqual({ kept: true });
      expect(g.headers.get('etag')).toBe(etag);
    });
  });
}

describe('state API without stores', () => {
  it('answers ERR_STATE_STORE_NOT_CONFIGURED (500) when no state store is loaded', async () => {
    const sc = await startSidecar({
      appId: `nostate-${RUN}`,
      resources: { 'env.yaml': component('env', 'secretstores.local.env', '[]') },
    });
    const res = await call(sc, 'GET', '/v1.0/state/any/k');
    expect(res.status).toBe(500);
    expect(res.json.errorCode).toBe('ERR_STATE_STORE_NOT_CONFIGURED');
    expect(res.json.details[0].metadata).toEqual({ appID: `nostate-${RUN}` });
    const tx = await call(sc, 'POST', '/v1.0/state/any/transaction', { operations: [] });
    expect(tx.json.errorCode).toBe('ERR_STATE_STORE_NOT_CONFIGURED');
  });
});
