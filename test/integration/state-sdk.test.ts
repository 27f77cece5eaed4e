// The state flows through the official @dapr/dapr HTTP client against real `bulwark sidecar`
// processes, as an application would use them: on the embedded default (state.sqlite under
// BULWARK_HOME, no resources folder at all), on Redis and on PostgreSQL.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CommunicationProtocolEnum, DaprClient, StateConcurrencyEnum } from '@dapr/dapr';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startSidecar, type SidecarProc } from '../helpers/processes.js';
import { serviceAvailable, type ServiceName } from '../helpers/services.js';

const RUN = randomUUID().slice(0, 8);

interface Target {
  label: string;
  service?: ServiceName;
  /** Resource YAML for a store named `statestore`; absent = the embedded defaults. */
  resources?: Record<string, string>;
}

const store = (type: string, md: string): Record<string, string> => ({
  'statestore.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: ${type}
  version: v1
  metadata:${md}
`,
});

const TARGETS: Target[] = [
  { label: 'embedded default (state.sqlite in BULWARK_HOME)' },
  { label: 'state.redis', service: 'redis', resources: store('state.redis', '\n  - name: redisHost\n    value: "127.0.0.1:6379"') },
  {
    label: 'state.postgresql',
    service: 'postgres',
    resources: store(
      'state.postgresql',
      `\n  - name: connectionString\n    value: "postgres://postgres@127.0.0.1:5432/test"\n  - name: tableName\n    value: "bulwark_sdk_${RUN}"`,
    ),
  },
];

for (const target of TARGETS) {
  describe(`state through @dapr/dapr (HTTP): ${target.label}`, () => {
    let sc: SidecarProc;
    let client: DaprClient;
    let available = true;
    const appId = `sdk-state-${RUN}`;

    beforeAll(async () => {
      if (target.service) available = await serviceAvailable(target.service);
      if (!available) return;
      sc = await startSidecar({ appId, ...(target.resources ? { resources: target.resources } : { embeddedDefaults: true }) });
      client = new DaprClient({ daprHost: '127.0.0.1', daprPort: String(sc.httpPort), communicationProtocol: CommunicationProtocolEnum.HTTP });
    });

    afterAll(async () => {
      await client?.stop();
      if (target.service === 'redis' && available) {
        const r = new Redis({ host: '127.0.0.1', port: 6379 });
        const keys = await r.keys(`${appId}||*`);
        if (keys.length > 0) await r.del(...keys);
        r.disconnect();
      }
      if (target.service === 'postgres' && available) {
        const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
        await c.connect();
        await c.query(`DROP TABLE IF EXISTS bulwark_sdk_${RUN}`);
        await c.end();
      }
    });

    it('reports the store and its capabilities through the SDK metadata call', async ({ skip }) => {
      if (!available) skip();
      const md = await client.metadata.get();
      const s = md.components.find((c) => c.name === 'statestore')!;
      expect(s.capabilities).toEqual(expect.arrayContaining(['ETAG', 'TRANSACTIONAL', 'TTL']));
      if (!target.resources) {
        // The embedded default keeps its file in BULWARK_HOME and holds actor state.
        expect(s.type).toBe('state.sqlite');
        expect(s.capabilities).toContain('ACTOR');
        expect(existsSync(join(sc.home, 'state.db'))).toBe(true);
      }
    });

    it('saves, gets, bulk-gets and deletes', async ({ skip }) => {
      if (!available) skip();
      expect(await client.state.save('statestore', [
        { key: 'order-1', value: { item: 'book', qty: 2 } },
        { key: 'order-2', value: 'plain string' },
        { key: 'orders/3', value: 42 },
      ])).toEqual({});
      expect(await client.state.get('statestore', 'order-1')).toEqual({ item: 'book', qty: 2 });
      expect(await client.state.get('statestore', 'order-2')).toBe('plain string');
      expect(await client.state.get('statestore', 'orders/3')).toBe(42);
      // A missing key: the SDK turns the 204 into an empty string.
      expect(await client.state.get('statestore', 'nothing-here')).toBe('');
      const bulk = await client.state.getBulk('statestore', ['order-1', 'order-2', 'nothing-here'], { parallelism: 2, metadata: {} });
      expect(bulk.map((b: any) => b.key)).toEqual(['order-1', 'order-2', 'nothing-here']);
      expect(bulk[0]).toMatchObject({ data: { item: 'book', qty: 2 } });
      expect(typeof (bulk[0] as any).etag).toBe('string');
      expect((bulk[2] as any).data).toBeUndefined();
      expect(await client.state.delete('statestore', 'order-2')).toEqual({});
      expect(await client.state.get('statestore', 'order-2')).toBe('');
    });

    it('optimistic concurrency: a stale ETag is refused on save and delete, the current one works', async ({ skip }) => {
      if (!available) skip();
      await client.state.save('statestore', [{ key: 'counter', value: 1 }]);
      const [first] = (await client.state.getBulk('statestore', ['counter'])) as any[];
      const etag: string = first.etag;
      const ok = await client.state.save('statestore', [
        { key: 'counter', value: 2, etag, options: { concurrency: StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE } },
      ]);
      expect(ok).toEqual({});
      const stale = await client.state.save('statestore', [
        { key: 'counter', value: 3, etag, options: { concurrency: StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE } },
      ]);
      expect(stale.error).toBeDefined();
      expect(String((stale.error as Error).message ?? stale.error)).toMatch(/409|etag/i);
      expect(await client.state.get('statestore', 'counter')).toBe(2);
      expect((await client.state.delete('statestore', 'counter', { etag } as any)).error).toBeDefined();
      const [now] = (await client.state.getBulk('statestore', ['counter'])) as any[];
      expect(await client.state.delete('statestore', 'counter', { etag: now.etag } as any)).toEqual({});
      expect(await client.state.get('statestore', 'counter')).toBe('');
    });

    it('TTL through request metadata: the value expires', async ({ skip }) => {
      if (!available) skip();
      await client.state.save('statestore', [{ key: 'session', value: { user: 'u1' }, metadata: { ttlInSeconds: '1' } }]);
      await eventually(async () => (await client.state.get('statestore', 'session')) === '', 15_000, 200);
    });

    it('transactions: all operations apply, or none when one fails', async ({ skip }) => {
      if (!available) skip();
      await client.state.save('statestore', [{ key: 'tx-gone', value: 'x' }, { key: 'tx-guarded', value: 'g' }]);
      await client.state.transaction('statestore', [
        { operation: 'upsert', request: { key: 'tx-1', value: { a: 1 } } },
        { operation: 'delete', request: { key: 'tx-gone' } },
      ]);
      expect(await client.state.get('statestore', 'tx-1')).toEqual({ a: 1 });
      expect(await client.state.get('statestore', 'tx-gone')).toBe('');
      await expect(
        client.state.transaction('statestore', [
          { operation: 'upsert', request: { key: 'tx-2', value: 'never' } },
          { operation: 'upsert', request: { key: 'tx-guarded', value: 'changed', etag: '123456789' } },
        ]),
      ).rejects.toThrow(/ERR_STATE_TRANSACTION/);
      expect(await client.state.get('statestore', 'tx-2')).toBe('');
      expect(await client.state.get('statestore', 'tx-guarded')).toBe('g');
    });

    it('query: answers on stores with QUERY_API, refuses on others', async ({ skip }) => {
      if (!available) skip();
      const md = await client.metadata.get();
      const caps = md.components.find((c) => c.name === 'statestore')!.capabilities ?? [];
      await client.state.save('statestore', [
        { key: 'q-1', value: { kind: 'fruit', name: 'apple' } },
        { key: 'q-2', value: { kind: 'veg', name: 'leek' } },
        { key: 'q-3', value: { kind: 'fruit', name: 'pear' } },
      ]);
      const query = { filter: { EQ: { kind: 'fruit' } }, sort: [{ key: 'name', order: 'DESC' }], page: { limit: 10 } } as any;
      if (!caps.includes('QUERY_API')) {
        await expect(client.state.query('statestore', query)).rejects.toThrow(/ERR_STATE_STORE_NOT_SUPPORTED/);
        return;
      }
      const res = await client.state.query('statestore', query);
      expect(res.results.map((r: any) => r.key)).toEqual(['q-3', 'q-1']);
      expect(res.results.map((r: any) => r.data.name)).toEqual(['pear', 'apple']);
    });
  });
}
