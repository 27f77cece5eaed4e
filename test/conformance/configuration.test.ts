// The configuration block against every configuration store (embedded configuration.sqlite,
// configuration.redis, configuration.postgresql): get under v1.0 and v1.0-alpha1, and
// subscriptions that see a value written straight into the backend (SQLite file, Redis SET,
// PostgreSQL UPDATE through Dapr's documented NOTIFY trigger) pushed to the app's
// /configuration/{store}/{key}; unsubscribe, and Dapr's error codes.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, eventually, ROOT, startProcess, startSidecar, tempDir, writeFolder, type SidecarProc } from '../helpers/processes.js';
import { serviceAvailable, type ServiceName } from '../helpers/services.js';

const APP = join(ROOT, 'test/conformance/bindings-app.mjs');

interface Backend {
  /** Component metadata lines. */
  metadata: string;
  /** Writes (or overwrites) an item straight into the backend. */
  write(key: string, value: string, version: string): Promise<void>;
  remove(key: string): Promise<void>;
  close(): Promise<void>;
}

interface StoreCase {
  type: string;
  service?: ServiceName;
  /** What a subscriber gets for a deleted key: null (Redis, SQLite) or the deleted row (Dapr's PostgreSQL trigger). */
  deleted: 'null' | 'row';
  setup(tag: string): Promise<Backend>;
}

const STORES: StoreCase[] = [
  {
    type: 'configuration.sqlite',
    deleted: 'null',
    async setup() {
      const file = join(tempDir('bulwark-cfg-'), 'configuration.db');
      let db: Database.Database | undefined;
      // The component creates the table; the test opens the file once it exists.
      const open = (): Database.Database => {
        db ??= new Database(file);
        db.pragma('busy_timeout = 5000');
        return db;
      };
      return {
        metadata: `\n  - name: connectionString\n    value: "${file}"\n  - name: pollInterval\n    value: 50ms`,
        async write(key, value, version) {
          open().prepare('INSERT INTO configuration (key, value, version, metadata) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, version = excluded.version').run(key, value, version, '{"source":"sqlite"}');
        },
        async remove(key) {
          open().prepare('DELETE FROM configuration WHERE key = ?').run(key);
        },
        async close() {
          db?.close();
        },
      };
    },
  },
  {
    type: 'configuration.redis',
    service: 'redis',
    deleted: 'null',
    async setup() {
      const r = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
      await r.connect();
      return {
        metadata: `\n  - name: redisHost\n    value: "127.0.0.1:6379"`,
        async write(key, value, version) {
          await r.set(key, `${value}||${version}`);
        },
        async remove(key) {
          await r.del(key);
        },
        async close() {
          r.disconnect();
        },
      };
    },
  },
  {
    type: 'configuration.postgresql',
    service: 'postgres',
    deleted: 'row',
    async setup(tag) {
      const table = `cfg_${tag}`;
      const channel = `cfgchan_${tag}`;
      const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
      await client.connect();
      // The table and trigger as Dapr's documentation tells users to create them.
      await client.query(`CREATE TABLE ${table} (KEY VARCHAR NOT NULL, VALUE VARCHAR NOT NULL, VERSION VARCHAR NOT NULL, METADATA JSON)`);
      await client.query(`CREATE OR REPLACE FUNCTION notify_${tag}() RETURNS TRIGGER AS $$
        DECLARE data json; notification json;
        BEGIN
          IF (TG_OP = 'DELETE') THEN data = row_to_json(OLD); ELSE data = row_to_json(NEW); END IF;
          notification = json_build_object('table', TG_TABLE_NAME, 'action', TG_OP, 'data', data);
          PERFORM pg_notify('${channel}', notification::text);
          RETURN NULL;
        END; $$ LANGUAGE plpgsql`);
      await client.query(`CREATE TRIGGER trg_${tag} AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE PROCEDURE notify_${tag}()`);
      return {
        metadata: `\n  - name: connectionString\n    value: "host=127.0.0.1 port=5432 user=postgres dbname=postgres"\n  - name: table\n    value: ${table}\n  - name: notifyChannel\n    value: ${channel}`,
        async write(key, value, version) {
          const u = await client.query(`UPDATE ${table} SET VALUE = $2, VERSION = $3 WHERE KEY = $1`, [key, value, version]);
          if (u.rowCount === 0) await client.query(`INSERT INTO ${table} (KEY, VALUE, VERSION, METADATA) VALUES ($1, $2, $3, '{"source":"pg"}')`, [key, value, version]);
        },
        async remove(key) {
          await client.query(`DELETE FROM ${table} WHERE KEY = $1`, [key]);
        },
        async close() {
          await client.query(`DROP TABLE IF EXISTS ${table}`);
          await client.query(`DROP FUNCTION IF EXISTS notify_${tag}()`);
          await client.end();
        },
      };
    },
  },
];

function yamlOf(type: string, md: string): string {
  return `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: cfg
spec:
  type: ${type}
  version: v1
  metadata:${md}
`;
}

interface Received {
  path: string;
  body: string;
  at: number;
}

async function received(appUrl: string, path: string): Promise<Received[]> {
  return (await (await fetch(`${appUrl}/control/received?path=${encodeURIComponent(path)}`)).json()) as Received[];
}

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

for (const store of STORES) {
  describe(`configuration conformance: ${store.type}`, () => {
    let available = true;
    let backend: Backend;
    let sidecar: SidecarProc;
    let appUrl: string;
    const tag = randomBytes(4).toString('hex');
    const key = (k: string): string => `cfg-${tag}-${k}`;

    beforeAll(async () => {
      if (store.service) available = await serviceAvailable(store.service);
      if (!available) return;
      backend = await store.setup(tag);
      sidecar = await startSidecar({ appId: `cfgapp-${tag}`, resources: { 'cfg.yaml': yamlOf(store.type, backend.metadata) }, args: ['--app-port', '0'], app: [process.execPath, APP] });
      const meta = await eventually(async () => {
        const m = (await getJson(`${sidecar.url}/v1.0/metadata`)).body as { appConnectionProperties?: { port?: number } };
        return m.appConnectionProperties?.port ? m : undefined;
      });
      appUrl = `http://127.0.0.1:${meta.appConnectionProperties!.port}`;
      await eventually(async () => (await fetch(`${appUrl}/control/received`)).ok);
      await backend.write(key('a'), '1', 'v1');
      await backend.write(key('b'), 'bee', 'v1');
    });

    afterAll(async () => {
      if (available) await backend?.close();
    });

    it('gets items by key under v1.0 and v1.0-alpha1, 204 when none exist', async (ctx) => {
      if (!available) return ctx.skip();
      for (const v of ['v1.0', 'v1.0-alpha1']) {
        const r = await getJson(`${sidecar.url}/${v}/configuration/cfg?key=${key('a')}&key=${key('b')}&key=${key('missing')}`);
        expect(r.status).toBe(200);
        expect(r.body).toMatchObject({ [key('a')]: { value: '1', version: 'v1' }, [key('b')]: { value: 'bee', version: 'v1' } });
        expect(Object.keys(r.body as object)).toHaveLength(2);
      }
      expect((await getJson(`${sidecar.url}/v1.0/configuration/cfg?key=${key('missing')}`)).status).toBe(204);
      const all = await getJson(`${sidecar.url}/v1.0/configuration/cfg`);
      expect(all.status).toBe(200);
      expect(all.body).toMatchObject({ [key('a')]: { value: '1' } });
    });

    it('pushes an update written straight into the backend to /configuration/cfg/<key>', async (ctx) => {
      if (!available) return ctx.skip();
      const sub = await getJson(`${sidecar.url}/v1.0/configuration/cfg/subscribe?key=${key('a')}`);
      expect(sub.status).toBe(200);
      const id = (sub.body as { id: string }).id;
      expect(typeof id).toBe('string');
      const path = `/configuration/cfg/${key('a')}`;
      await backend.write(key('b'), 'unwatched', 'v2');
      const writtenAt = Date.now();
      await backend.write(key('a'), '2', 'v2');
      const got = await eventually(async () => {
        const list = await received(appUrl, path);
        return list.find((r) => (JSON.parse(r.body) as { items: Record<string, { value: string }> }).items[key('a')]?.value === '2');
      }, 10_000, 20);
      console.log(`${store.type}: update reached the app ${got.at - writtenAt} ms after the write`);
      expect(JSON.parse(got.body)).toMatchObject({ id, items: { [key('a')]: { value: '2', version: 'v2' } } });
      expect(await received(appUrl, `/configuration/cfg/${key('b')}`)).toHaveLength(0);

      const unsub = await getJson(`${sidecar.url}/v1.0/configuration/cfg/${id}/unsubscribe`);
      expect(unsub).toEqual({ status: 200, body: { ok: true } });
      // A new subscription (alpha1 route, every key) gets later writes; the old id gets none.
      const sub2 = await getJson(`${sidecar.url}/v1.0-alpha1/configuration/cfg/subscribe`);
      const id2 = (sub2.body as { id: string }).id;
      await backend.write(key('a'), '3', 'v3');
      await eventually(async () => (await received(appUrl, path)).some((r) => JSON.parse(r.body).id === id2), 10_000, 20);
      expect((await received(appUrl, path)).filter((r) => JSON.parse(r.body).id === id).map((r) => JSON.parse(r.body).items[key('a')].value)).toEqual(['2']);
      await backend.remove(key('b'));
      const deletion = await eventually(async () => (await received(appUrl, `/configuration/cfg/${key('b')}`)).find((r) => JSON.parse(r.body).id === id2), 10_000, 20);
      const deletedItem = (JSON.parse(deletion.body) as { items: Record<string, unknown> }).items[key('b')];
      if (store.deleted === 'null') expect(deletedItem).toBeNull();
      else expect(deletedItem).toMatchObject({ value: 'unwatched', version: 'v2' });
      expect((await getJson(`${sidecar.url}/v1.0-alpha1/configuration/cfg/${id2}/unsubscribe`)).body).toEqual({ ok: true });
    });

    it('answers an unknown subscription id with Dapr unsubscribe failure body', async (ctx) => {
      if (!available) return ctx.skip();
      const r = await getJson(`${sidecar.url}/v1.0/configuration/cfg/no-such-id/unsubscribe`);
      expect(r.status).toBe(500);
      expect(Object.keys(r.body as object)).toEqual(['message']);
      expect((r.body as { message: string }).message).toContain('failed to unsubscribe to configuration request no-such-id');
    });

    it('answers ERR_CONFIGURATION_STORE_NOT_FOUND for an unknown store and lists the store in metadata', async (ctx) => {
      if (!available) return ctx.skip();
      for (const path of ['/v1.0/configuration/nope', '/v1.0/configuration/nope/subscribe', '/v1.0-alpha1/configuration/nope?key=a']) {
        const r = await getJson(`${sidecar.url}${path}`);
        expect(r.status).toBe(400);
        expect((r.body as { errorCode: string }).errorCode).toBe('ERR_CONFIGURATION_STORE_NOT_FOUND');
      }
      const meta = (await getJson(`${sidecar.url}/v1.0/metadata`)).body as { components: Array<{ name: string; type: string; version: string; capabilities: string[] }> };
      expect(meta.components).toContainEqual({ name: 'cfg', type: store.type, version: 'v1', capabilities: [] });
    });
  });
}

describe('configuration without an app or without stores', () => {
  it('refuses subscribe without an app channel and answers ERR_CONFIGURATION_STORE_NOT_CONFIGURED without stores', async () => {
    const file = join(tempDir('bulwark-cfg-'), 'c.db');
    const withStore = await startSidecar({ appId: 'cfg-noapp', resources: { 'cfg.yaml': yamlOf('configuration.sqlite', `\n  - name: connectionString\n    value: "${file}"`) } });
    const sub = await getJson(`${withStore.url}/v1.0/configuration/cfg/subscribe?key=a`);
    expect(sub.status).toBe(500);
    expect((sub.body as { errorCode: string }).errorCode).toBe('ERR_APP_CHANNEL_NIL');
    expect((await getJson(`${withStore.url}/v1.0/configuration/cfg?key=a`)).status).toBe(204);
    const none = await startSidecar({ appId: 'cfg-none' });
    const r = await getJson(`${none.url}/v1.0/configuration/cfg?key=a`);
    expect(r.status).toBe(500);
    expect((r.body as { errorCode: string }).errorCode).toBe('ERR_CONFIGURATION_STORE_NOT_CONFIGURED');
  });
});

describe('configuration.postgresql specifics', () => {
  it('refuses a missing table at init, takes the channel from pgNotifyChannel, and answers ERR_CONFIGURATION_GET/SUBSCRIBE', async (ctx) => {
    if (!(await serviceAvailable('postgres'))) return ctx.skip();
    const tag = randomBytes(4).toString('hex');
    const table = `cfgx_${tag}`;
    const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
    await client.connect();
    try {
      const cs = 'host=127.0.0.1 port=5432 user=postgres dbname=postgres';
      const dir = writeFolder({ 'c.yaml': yamlOf('configuration.postgresql', `\n  - name: connectionString\n    value: "${cs}"\n  - name: table\n    value: nosuch_${tag}`) });
      const missing = startProcess(process.execPath, [CLI, 'sidecar', '--app-id', 'cfg-pg-missing', '--dapr-http-port', '0', '--metrics-port', '0', '--resources-path', dir], { env: { BULWARK_HOME: tempDir() } });
      expect((await missing.exited).code).toBe(1);
      await eventually(() => /configuration table 'nosuch_\w+' does not exist/.test(missing.output()), 5000, 20);
      await client.query(`CREATE TABLE ${table} (KEY VARCHAR NOT NULL, VALUE VARCHAR NOT NULL, VERSION VARCHAR NOT NULL, METADATA JSON)`);
      await client.query(`INSERT INTO ${table} VALUES ('k', 'v', '7', '{"owner":"ops","n":1}')`);
      const app = await startSidecar({
        appId: 'cfg-pg-extra',
        resources: { 'c.yaml': yamlOf('configuration.postgres', `\n  - name: connectionString\n    value: "${cs}"\n  - name: table\n    value: ${table}`) },
        args: ['--app-port', '0'],
        app: [process.execPath, APP],
      });
      expect(await getJson(`${app.url}/v1.0/configuration/cfg?key=k`)).toEqual({ status: 200, body: { k: { value: 'v', version: '7', metadata: { owner: 'ops', n: '1' } } } });
      const noChannel = await getJson(`${app.url}/v1.0/configuration/cfg/subscribe?key=k`);
      expect(noChannel.status).toBe(500);
      expect(noChannel.body).toMatchObject({ errorCode: 'ERR_CONFIGURATION_SUBSCRIBE' });
      expect((noChannel.body as { message: string }).message).toMatch(/^failed to subscribe \[k\] from Configuration store cfg: /);
      const withChannel = await getJson(`${app.url}/v1.0/configuration/cfg/subscribe?key=k&metadata.pgNotifyChannel=chan_${tag}`);
      expect(withChannel.status).toBe(200);
      await client.query(`DROP TABLE ${table}`);
      const broken = await getJson(`${app.url}/v1.0/configuration/cfg?key=k`);
      expect(broken.status).toBe(500);
      expect(broken.body).toMatchObject({ errorCode: 'ERR_CONFIGURATION_GET' });
      expect((broken.body as { message: string }).message).toMatch(/^failed to get \[k\] from Configuration store cfg: /);
    } finally {
      await client.query(`DROP TABLE IF EXISTS ${table}`);
      await client.end();
    }
  });
});

describe('configuration.postgresql listener', () => {
  it('listens again after its connection is killed and keeps delivering updates', async (ctx) => {
    if (!(await serviceAvailable('postgres'))) return ctx.skip();
    const tag = randomBytes(4).toString('hex');
    const backend = await STORES.find((s) => s.type === 'configuration.postgresql')!.setup(tag);
    const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
    await admin.connect();
    try {
      const sidecar = await startSidecar({ appId: `cfg-relisten-${tag}`, resources: { 'cfg.yaml': yamlOf('configuration.postgresql', backend.metadata) }, args: ['--app-port', '0'], app: [process.execPath, APP] });
      const meta = await eventually(async () => {
        const m = (await getJson(`${sidecar.url}/v1.0/metadata`)).body as { appConnectionProperties?: { port?: number } };
        return m.appConnectionProperties?.port ? m : undefined;
      });
      const appUrl = `http://127.0.0.1:${meta.appConnectionProperties!.port}`;
      await eventually(async () => (await fetch(`${appUrl}/control/received`)).ok);
      const id = ((await getJson(`${sidecar.url}/v1.0/configuration/cfg/subscribe?key=k`)).body as { id: string }).id;
      const killed = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1`, [`LISTEN cfgchan_${tag}`]);
      expect(killed.rowCount).toBe(1);
      let n = 0;
      await eventually(async () => {
        await backend.write('k', `v${++n}`, String(n));
        await new Promise((r) => setTimeout(r, 100));
        return (await received(appUrl, '/configuration/cfg/k')).some((r) => JSON.parse(r.body).id === id);
      }, 15_000, 100);
      await fetch(`${sidecar.url}/v1.0/shutdown`, { method: 'POST' });
    } finally {
      await admin.end();
      await backend.close();
    }
  });
});

describe('configuration.redis listener', () => {
  it('subscribes again after its connection is killed and keeps delivering updates', async (ctx) => {
    if (!(await serviceAvailable('redis'))) return ctx.skip();
    const tag = randomBytes(4).toString('hex');
    const backend = await STORES.find((s) => s.type === 'configuration.redis')!.setup(tag);
    const admin = new Redis({ host: '127.0.0.1', port: 6379 });
    try {
      const sidecar = await startSidecar({ appId: `cfg-resub-${tag}`, resources: { 'cfg.yaml': yamlOf('configuration.redis', backend.metadata) }, args: ['--app-port', '0'], app: [process.execPath, APP] });
      const meta = await eventually(async () => {
        const m = (await getJson(`${sidecar.url}/v1.0/metadata`)).body as { appConnectionProperties?: { port?: number } };
        return m.appConnectionProperties?.port ? m : undefined;
      });
      const appUrl = `http://127.0.0.1:${meta.appConnectionProperties!.port}`;
      await eventually(async () => (await fetch(`${appUrl}/control/received`)).ok);
      const key = `cfg-resub-${tag}`;
      const id = ((await getJson(`${sidecar.url}/v1.0/configuration/cfg/subscribe?key=${key}`)).body as { id: string }).id;
      const list = (await admin.client('LIST')) as string;
      const line = list.split('\n').find((l) => l.includes(`name=bulwark-configuration-${id}`));
      expect(line).toBeDefined();
      await admin.client('KILL', 'ID', /id=(\d+)/.exec(line!)![1]!);
      let n = 0;
      await eventually(async () => {
        await backend.write(key, `v${++n}`, String(n));
        await new Promise((r) => setTimeout(r, 100));
        return (await received(appUrl, `/configuration/cfg/${key}`)).some((r) => JSON.parse(r.body).id === id);
      }, 15_000, 100);
      await fetch(`${sidecar.url}/v1.0/shutdown`, { method: 'POST' });
      await backend.remove(key);
    } finally {
      admin.disconnect();
      await backend.close();
    }
  });
});
