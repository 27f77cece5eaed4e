// Name resolution across machines without Kubernetes: sidecars with separate BULWARK_HOMEs (so
// no shared local registry) find each other through leases in Redis or PostgreSQL; a killed
// instance stops renewing its lease and drops out, a stopped one gives its lease back at once.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { startMember } from '../helpers/mesh.js';
import { eventually, stopProcess, tempDir, writeFolder } from '../helpers/processes.js';
import { serviceAvailable } from '../helpers/services.js';

/** What a test needs from a lease store: the live addresses of an app id, and cleanup. */
interface LeaseStore {
  configuration: string;
  live(appId: string): Promise<string[]>;
  all(appId: string): Promise<string[]>;
  close(): Promise<void>;
}

async function redisStore(): Promise<LeaseStore> {
  const prefix = `bulwark-test-nr-${randomUUID()}`;
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  await redis.connect();
  const key = (appId: string): string => `${prefix}:default:${appId}`;
  return {
    configuration: `component: redis
    configuration:
      redisHost: localhost:6379
      keyPrefix: ${prefix}
      leaseTTL: 1s`,
    live: (appId) => redis.zrangebyscore(key(appId), Date.now(), '+inf'),
    all: (appId) => redis.zrange(key(appId), 0, -1),
    close: async () => {
      await redis.del(key('ledger'), key('edge'));
      redis.disconnect();
    },
  };
}

async function postgresStore(): Promise<LeaseStore> {
  const table = `bulwark_nr_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres', max: 2 });
  const rows = async (appId: string, liveOnly: boolean): Promise<string[]> =>
    (await pool.query<{ address: string }>(`SELECT address FROM ${table} WHERE app_id = $1${liveOnly ? ' AND expires_at > now()' : ''}`, [appId])).rows.map((r) => r.address);
  return {
    configuration: `component: postgresql
    configuration:
      connectionString: postgres://postgres@127.0.0.1:5432/postgres
      tableName: ${table}
      leaseTTL: 1s`,
    live: (appId) => rows(appId, true),
    all: (appId) => rows(appId, false),
    close: async () => {
      await pool.query(`DROP TABLE IF EXISTS ${table}`);
      await pool.end();
    },
  };
}

const BACKENDS = [
  { name: 'Redis', service: 'redis', open: redisStore },
  { name: 'PostgreSQL', service: 'postgres', open: postgresStore },
] as const;

for (const backend of BACKENDS) {
  const available = await serviceAvailable(backend.service);
  describe.skipIf(!available)(`${backend.name} name resolution with leases`, () => {
    it('resolves app ids across separate homes and drops an instance whose lease ends', async () => {
      const store = await backend.open();
      const cfg = writeFolder({
        'config.yaml': `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: multi-machine
spec:
  nameResolution:
    ${store.configuration}
`,
      });
      const args = ['--config', `${cfg}/config.yaml`];
      try {
        const [caller, w1, w2] = await Promise.all([
          startMember('edge', tempDir('bulwark-home-'), { args }),
          startMember('ledger', tempDir('bulwark-home-'), { args, name: 'l1' }),
          startMember('ledger', tempDir('bulwark-home-'), { args, name: 'l2' }),
        ]);
        expect((await store.all('ledger')).sort()).toEqual([`127.0.0.1:${w1.internalPort}`, `127.0.0.1:${w2.internalPort}`].sort());

        const url = `${caller.sidecar.url}/v1.0/invoke/ledger/method/entries`;
        const names = new Set<string>();
        for (let i = 0; i < 10; i++) {
          const res = await request(url);
          expect(res.statusCode).toBe(200);
          names.add(((await res.body.json()) as { name: string }).name);
        }
        expect([...names].sort()).toEqual(['l1', 'l2']);

        await stopProcess(w1.sidecar, 'SIGKILL');
        // The lease of the killed sidecar runs out; the live one keeps renewing.
        await eventually(async () => (await store.live('ledger')).length === 1, 10_000);
        for (let i = 0; i < 10; i++) {
          const res = await request(url);
          expect(res.statusCode).toBe(200);
          expect(((await res.body.json()) as { name: string }).name).toBe('l2');
        }
        await stopProcess(w2.sidecar);
        expect(await store.all('ledger')).not.toContain(`127.0.0.1:${w2.internalPort}`);
      } finally {
        await store.close();
      }
    });
  });
}
