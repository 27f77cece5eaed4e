// A state store that goes away answers clear errors and is used again when it returns, without
// restarting the sidecar; with a Resiliency retry on the component's outbound target, a call
// made during the outage waits it out. Redis runs as a private redis-server started (and
// stopped) by this test; PostgreSQL loses the sidecar's connections mid-run.
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../cli/free-port.js';
import { eventually, startProcess, startSidecar, stopProcess, tempDir, type Proc, type SidecarProc } from '../helpers/processes.js';
import { serviceAvailable } from '../helpers/services.js';

const RUN = randomUUID().slice(0, 8);

function hasRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function startRedis(port: number, ...extra: string[]): Promise<Proc> {
  // Its own empty folder: replication writes dump files to the working directory otherwise.
  const p = startProcess('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tempDir('bulwark-redis-'), ...extra]);
  await p.waitFor(/Ready to accept connections/);
  return p;
}

async function call(sc: SidecarProc, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(sc.url + path, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

const redisStore = (port: number): string => `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.redis
  version: v1
  metadata:
  - name: redisHost
    value: "127.0.0.1:${port}"
`;

describe('state store outages', () => {
  it('Redis: errors while the server is down, works again when it is back, no sidecar restart', async () => {
    expect(hasRedisServer()).toBe(true);
    const port = await freePort();
    let redis = await startRedis(port);
    const sc = await startSidecar({ appId: `outage-${RUN}`, resources: { 'store.yaml': redisStore(port) } });
    expect((await call(sc, 'POST', '/v1.0/state/statestore', [{ key: 'k', value: 'before' }])).status).toBe(204);

    await stopProcess(redis);
    const get = await call(sc, 'GET', '/v1.0/state/statestore/k');
    expect(get.status).toBe(500);
    expect(get.json.errorCode).toBe('ERR_STATE_GET');
    expect(get.json.message).toContain(`127.0.0.1:${port}`);
    const save = await call(sc, 'POST', '/v1.0/state/statestore', [{ key: 'k', value: 'during' }]);
    expect(save.status).toBe(500);
    expect(save.json.errorCode).toBe('ERR_STATE_SAVE');

    redis = await startRedis(port);
    await eventually(async () => (await call(sc, 'POST', '/v1.0/state/statestore', [{ key: 'k', value: 'after' }])).status === 204, 20_000, 200);
    const back = await call(sc, 'GET', '/v1.0/state/statestore/k');
    expect(back.status).toBe(200);
    expect(back.json).toBe('after');
    await stopProcess(redis);
  });

  it('Redis with a Resiliency retry on the component: a save made during the outage completes when the server returns', async () => {
    const port = await freePort();
    let redis = await startRedis(port);
    const sc = await startSidecar({
      appId: `outage-retry-${RUN}`,
      resources: {
        'store.yaml': redisStore(port),
        'resiliency.yaml': `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: state-retries
spec:
  policies:
    retries:
      storeRetry:
        policy: constant
        duration: 200ms
        maxRetries: 100
  targets:
    components:
      statestore:
        outbound:
          retry: storeRetry
`,
      },
    });
    expect((await call(sc, 'POST', '/v1.0/state/statestore', [{ key: 'r', value: 1 }])).status).toBe(204);
    await stopProcess(redis);
    const pending = call(sc, 'POST', '/v1.0/state/statestore', [{ key: 'r', value: 2 }]);
    // The save is still retrying while the server is away.
    const early = await Promise.race([pending.then(() => 'done'), new Promise((r) => setTimeout(() => r('waiting'), 600))]);
    expect(early).toBe('waiting');
    redis = await startRedis(port);
    expect((await pending).status).toBe(204);
    expect((await call(sc, 'GET', '/v1.0/state/statestore/r')).json).toBe(2);
    await stopProcess(redis);
  });

  it('Redis Sentinel (failover: true): finds the master by name, and the new one after a failover', async () => {
    const [p1, p2, ps] = [await freePort(), await freePort(), await freePort()];
    const master = await startRedis(p1);
    const replica = await startRedis(p2, '--replicaof', '127.0.0.1', String(p1));
    const conf = join(tempDir('bulwark-sentinel-'), 'sentinel.conf');
    writeFileSync(conf, [
      `port ${ps}`,
      'bind 127.0.0.1',
      `sentinel monitor shop 127.0.0.1 ${p1} 1`,
      'sentinel down-after-milliseconds shop 1000',
      'sentinel failover-timeout shop 5000',
      '',
    ].join('\n'));
    const sentinel = startProcess('redis-server', [conf, '--sentinel'], { cwd: tempDir('bulwark-sentinel-run-') });
    await sentinel.waitFor(/\+monitor master shop/);
    await replica.waitFor(/MASTER <-> REPLICA sync: Finished|Successful partial resynchronization/);
    const sc = await startSidecar({
      appId: `sentinel-${RUN}`,
      resources: {
        'store.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.redis
  version: v1
  metadata:
  - name: redisHost
    value: "127.0.0.1:${ps}"
  - name: failover
    value: "true"
  - name: sentinelMasterName
    value: shop
`,
      },
    });
    // consistency: strong waits until the replica has the write: read it there directly.
    expect((await call(sc, 'POST', '/v1.0/state/statestore', [{ key: 's', value: 'on-master', options: { consistency: 'strong' } }])).status).toBe(204);
    expect((await call(sc, 'GET', '/v1.0/state/statestore/s')).json).toBe('on-master');
    const direct = new Redis({ host: '127.0.0.1', port: p2, lazyConnect: true });
    await direct.connect();
    expect(await direct.hget(`sentinel-${RUN}||s`, 'data')).toBe('"on-master"');
    direct.disconnect();
    // The master goes away; the sentinel promotes the replica and the sidecar follows it.
    await stopProcess(master);
    await sentinel.waitFor(/\+switch-master shop/, 30_000);
    await eventually(async () => (await call(sc, 'POST', '/v1.0/state/statestore', [{ key: 's', value: 'on-new-master' }])).status === 204, 30_000, 250);
    expect((await call(sc, 'GET', '/v1.0/state/statestore/s')).json).toBe('on-new-master');
    await stopProcess(sc);
    await stopProcess(sentinel);
    await stopProcess(replica);
  });

  it('PostgreSQL: after its connections are killed, the store is used again without a restart', async ({ skip }) => {
    if (!(await serviceAvailable('postgres'))) skip();
    const appId = `outage-pg-${RUN}`;
    const table = `bulwark_outage_${RUN}`;
    const sc = await startSidecar({
      appId,
      resources: {
        'store.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.postgresql
  version: v1
  metadata:
  - name: connectionString
    value: "host=127.0.0.1 port=5432 user=postgres database=test application_name=${appId}"
  - name: tableName
    value: ${table}
`,
      },
    });
    const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
    await admin.connect();
    try {
      expect((await call(sc, 'POST', '/v1.0/state/statestore', [{ key: 'p', value: 'before' }])).status).toBe(204);
      const killed = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appId]);
      expect(killed.rowCount).toBeGreaterThan(0);
      await eventually(async () => (await call(sc, 'POST', '/v1.0/state/statestore', [{ key: 'p', value: 'after' }])).status === 204, 20_000, 200);
      expect((await call(sc, 'GET', '/v1.0/state/statestore/p')).json).toBe('after');
    } finally {
      await admin.query(`DROP TABLE IF EXISTS ${table}`);
      await admin.end();
    }
  });
});
