// The bindings block with the service-backed components, each gated on its service:
// bindings.redis (Dapr's data bytes in Redis), bindings.postgresql (exec/query with
// parameters, response metadata, close), bindings.rabbitmq and bindings.mqtt3 (output to input
// through the broker, redelivered after the app fails), and the official SDK's binding client.
import { randomBytes } from 'node:crypto';
import { CommunicationProtocolEnum, DaprClient } from '@dapr/dapr';
import { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, startSidecar, type SidecarProc } from '../helpers/processes.js';
import { serviceAvailable } from '../helpers/services.js';
import { componentYaml, invokeBinding, startRecordingApp, type RecordingApp } from './bindings-helpers.js';

const tag = randomBytes(4).toString('hex');

describe('bindings conformance: bindings.redis', () => {
  let available = true;
  let sidecar: SidecarProc;
  let redis: Redis;
  const key = (k: string): string => `bindtest-${tag}-${k}`;

  beforeAll(async () => {
    available = await serviceAvailable('redis');
    if (!available) return;
    redis = new Redis({ host: '127.0.0.1', port: 6379 });
    sidecar = await startSidecar({ appId: 'bindings-redis', resources: { 'r.yaml': componentYaml('cache', 'bindings.redis', { redisHost: '127.0.0.1:6379' }) } });
    return () => redis.disconnect();
  });

  it('stores the re-serialized data bytes and reads them back', async (ctx) => {
    if (!available) return ctx.skip();
    expect((await invokeBinding(sidecar, 'cache', { operation: 'create', data: 'Hi', metadata: { key: key('s') } })).status).toBe(204);
    expect(await redis.get(key('s'))).toBe('"Hi"');
    await invokeBinding(sidecar, 'cache', { operation: 'create', data: { b: [1, 2.5], a: null }, metadata: { key: key('o') } });
    expect(await redis.get(key('o'))).toBe('{"a":null,"b":[1,2.5]}');
    const got = await invokeBinding(sidecar, 'cache', { operation: 'get', metadata: { key: key('o') } });
    expect(got.status).toBe(200);
    expect(got.text).toBe('{"a":null,"b":[1,2.5]}');
    const missing = await invokeBinding(sidecar, 'cache', { operation: 'get', metadata: { key: key('none') } });
    expect(missing.status).toBe(200);
    expect(missing.text).toBe('');
  });

  it('expires with ttlInSeconds, deletes, gets-and-deletes, increments', async (ctx) => {
    if (!available) return ctx.skip();
    await invokeBinding(sidecar, 'cache', { operation: 'create', data: 1, metadata: { key: key('ttl'), ttlInSeconds: '100' } });
    expect(await redis.ttl(key('ttl'))).toBeGreaterThan(90);
    await invokeBinding(sidecar, 'cache', { operation: 'delete', metadata: { key: key('ttl') } });
    expect(await redis.exists(key('ttl'))).toBe(0);
    await invokeBinding(sidecar, 'cache', { operation: 'create', data: 'x', metadata: { key: key('gd') } });
    expect((await invokeBinding(sidecar, 'cache', { operation: 'get', metadata: { key: key('gd'), delete: 'true' } })).text).toBe('"x"');
    expect(await redis.exists(key('gd'))).toBe(0);
    for (let i = 0; i < 3; i++) await invokeBinding(sidecar, 'cache', { operation: 'increment', metadata: { key: key('n') } });
    expect(await redis.get(key('n'))).toBe('3');
    const noKey = await invokeBinding(sidecar, 'cache', { operation: 'get' });
    expect(noKey.status).toBe(500);
    expect(noKey.json()).toMatchObject({ errorCode: 'ERR_INVOKE_OUTPUT_BINDING' });
    await redis.del(key('s'), key('o'), key('n'));
  });
});

describe('bindings conformance: bindings.postgresql', () => {
  let available = true;
  let sidecar: SidecarProc;
  const table = `bind_${tag}`;

  beforeAll(async () => {
    available = await serviceAvailable('postgres');
    if (!available) return;
    sidecar = await startSidecar({
      appId: 'bindings-pg',
      resources: {
        'pg.yaml': componentYaml('db', 'bindings.postgresql', { connectionString: 'host=127.0.0.1 port=5432 user=postgres dbname=postgres' }),
        'pg2.yaml': componentYaml('db2', 'bindings.postgres', { connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' }),
        'pg3.yaml': componentYaml('slowdb', 'bindings.postgresql', { connectionString: 'host=127.0.0.1 user=postgres dbname=postgres', timeout: '1s', maxConns: '1' }),
      },
    });
  });

  const exec = (name: string, sql: string, params?: unknown[]) =>
    invokeBinding(sidecar, name, { operation: 'exec', metadata: { sql, ...(params ? { params: JSON.stringify(params) } : {}) } });
  const query = (sql: string, params?: unknown[]) => invokeBinding(sidecar, 'db', { operation: 'query', metadata: { sql, ...(params ? { params: JSON.stringify(params) } : {}) } });

  it('executes statements with parameters and reports rows-affected and timing metadata', async (ctx) => {
    if (!available) return ctx.skip();
    const created = await exec('db', `CREATE TABLE ${table} (id integer PRIMARY KEY, name text, tags jsonb, at timestamptz)`);
    expect(created.status).toBe(200);
    expect(created.headers.get('metadata.operation')).toBe('exec');
    const ins = await exec('db', `INSERT INTO ${table} (id, name, tags, at) VALUES ($1, $2, $3, $4), ($5, $6, $7, $8)`, [1, "o'neil", { a: 1 }, '2026-01-02T03:04:05Z', 2, 'bob', [1, 2], null]);
    expect(ins.status).toBe(200);
    expect(ins.text).toBe('');
    expect(ins.headers.get('metadata.rows-affected')).toBe('2');
    expect(ins.headers.get('metadata.sql')).toContain(`INSERT INTO ${table}`);
    expect(ins.headers.get('metadata.start-time')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(ins.headers.get('metadata.end-time')).toMatch(/Z$/);
    expect(ins.headers.get('metadata.duration')).toMatch(/^[\d.]+(ns|µs|ms|s)/);
    const upd = await exec('db2', `UPDATE ${table} SET name = upper(name) WHERE id > $1`, [0]);
    expect(upd.headers.get('metadata.rows-affected')).toBe('2');
  });

  it('queries with parameters and answers rows as arrays of column values', async (ctx) => {
    if (!available) return ctx.skip();
    const q = await query(`SELECT id, name, tags, at FROM ${table} WHERE id >= $1 ORDER BY id`, [1]);
    expect(q.status).toBe(200);
    expect(q.headers.get('metadata.operation')).toBe('query');
    expect(q.json()).toEqual([
      [1, "O'NEIL", { a: 1 }, '2026-01-02T03:04:05.000Z'],
      [2, 'BOB', [1, 2], null],
    ]);
    const none = await query(`SELECT id FROM ${table} WHERE name = $1`, ['nobody']);
    expect(none.json()).toEqual([]);
  });

  it('bounds a statement by the timeout metadata and keeps working afterwards', async (ctx) => {
    if (!available) return ctx.skip();
    const slow = await invokeBinding(sidecar, 'slowdb', { operation: 'query', metadata: { sql: 'SELECT pg_sleep(5)' } });
    expect(slow.status).toBe(500);
    expect(slow.json()).toMatchObject({ errorCode: 'ERR_INVOKE_OUTPUT_BINDING' });
    const next = await invokeBinding(sidecar, 'slowdb', { operation: 'query', metadata: { sql: 'SELECT $1::int + 1', params: '[41]' } });
    expect(next.status).toBe(200);
    expect(next.json()).toEqual([[42]]);
  });

  it('answers errors for bad SQL, bad params and missing sql, then closes the pool', async (ctx) => {
    if (!available) return ctx.skip();
    const bad = await query('SELEKT 1');
    expect(bad.status).toBe(500);
    expect(bad.json()).toMatchObject({ errorCode: 'ERR_INVOKE_OUTPUT_BINDING' });
    const badParams = await invokeBinding(sidecar, 'db', { operation: 'query', metadata: { sql: 'SELECT $1::int', params: '{not json' } });
    expect(badParams.status).toBe(500);
    const noSql = await invokeBinding(sidecar, 'db', { operation: 'exec' });
    expect((noSql.json() as { message: string }).message).toContain('sql');
    expect((await exec('db', `DROP TABLE ${table}`)).status).toBe(200);
    const closed = await invokeBinding(sidecar, 'db2', { operation: 'close' });
    expect(closed.status).toBe(200);
    expect(closed.headers.get('metadata.operation')).toBe('close');
    expect((await exec('db2', 'SELECT 1')).status).toBe(500);
  });
});

interface BrokerCase {
  type: string;
  service: 'rabbitmq' | 'mqtt';
  metadata(name: string): Record<string, string>;
  /** Headers the app must see on a message published with metadata {tag: 'a b&c'}. */
  headers(name: string): Record<string, string>;
}

const BROKERS: BrokerCase[] = [
  { type: 'bindings.rabbitmq', service: 'rabbitmq', metadata: (name) => ({ host: 'amqp://guest:guest@127.0.0.1:5672', queueName: `q-${name}`, durable: 'true' }), headers: () => ({ tag: 'a+b%26c' }) },
  { type: 'bindings.mqtt3', service: 'mqtt', metadata: (name) => ({ url: 'tcp://127.0.0.1:1883', topic: `bulwark/${name}`, consumerID: name, backOffMaxRetries: '3' }), headers: (name) => ({ topic: `bulwark/${name}` }) },
];

for (const broker of BROKERS) {
  describe(`bindings conformance: ${broker.type} in and out`, () => {
    let available = true;
    let app: RecordingApp;
    let sidecar: SidecarProc;
    const name = `${broker.service}-${tag}`;
    const route = `/${name}`;

    beforeAll(async () => {
      available = await serviceAvailable(broker.service);
      if (!available) return;
      app = await startRecordingApp([route]);
      sidecar = await startSidecar({ appId: `bindings-${broker.service}`, args: ['--app-port', String(app.port)], resources: { 'b.yaml': componentYaml(name, broker.type, broker.metadata(name)) } });
      await eventually(async () => (await sidecar.output()).includes(`input binding ${name} started`), 20_000, 100);
    });

    it('delivers what the output side published to the app route', async (ctx) => {
      if (!available) return ctx.skip();
      const r = await invokeBinding(sidecar, name, { operation: 'create', data: { order: 1 }, metadata: { tag: 'a b&c' } });
      expect(r.status).toBe(204);
      const got = await eventually(async () => (await app.received(route)).find((d) => d.body === '{"order":1}'), 20_000, 50);
      expect(got.method).toBe('POST');
      expect(got.headers['content-type']).toBe('application/json');
      expect(got.headers).toMatchObject(broker.headers(name));
    });

    it('redelivers a message after the app fails it', async (ctx) => {
      if (!available) return ctx.skip();
      await fetch(`${app.url}/control/behavior`, { method: 'POST', body: JSON.stringify({ [route]: { failTimes: (await app.received(route)).length + 2 } }) });
      expect((await invokeBinding(sidecar, name, { operation: 'create', data: 'retry me' })).status).toBe(204);
      const attempts = await eventually(async () => {
        const list = (await app.received(route)).filter((d) => d.body === '"retry me"');
        return list.some((d) => d.status === 200) ? list : undefined;
      }, 40_000, 100);
      expect(attempts.map((d) => d.status)).toEqual([500, 500, 200]);
    }, 60_000);

    it('works through the official SDK HTTP binding client', async (ctx) => {
      if (!available) return ctx.skip();
      const client = new DaprClient({ daprHost: '127.0.0.1', daprPort: String(sidecar.httpPort), communicationProtocol: CommunicationProtocolEnum.HTTP });
      await client.binding.send(name, 'create', { via: 'sdk' });
      await eventually(async () => (await app.received(route)).some((d) => d.body === '{"via":"sdk"}'), 20_000, 50);
      await client.stop();
    });
  });
}

describe('bindings conformance: bindings.mqtt3 leaves a failed message to the broker', () => {
  it('gets a message the app failed (no in-process retries left) again from the broker when the session resumes', async (ctx) => {
    if (!(await serviceAvailable('mqtt'))) return ctx.skip();
    const name = `mqttresume-${tag}`;
    const route = `/${name}`;
    const app = await startRecordingApp([route], { [route]: { status: 500 } });
    const resources = { 'm.yaml': componentYaml(name, 'bindings.mqtt3', { url: 'tcp://127.0.0.1:1883', topic: `bulwark/${name}`, consumerID: name, direction: 'input, output' }) };
    const first = await startSidecar({ appId: 'mqtt-resume', args: ['--app-port', String(app.port)], resources });
    await eventually(() => first.output().includes(`input binding ${name} started`), 20_000, 100);
    expect((await invokeBinding(first, name, { operation: 'create', data: 'keep me' })).status).toBe(204);
    await eventually(async () => (await app.received(route)).some((d) => d.body === '"keep me"' && d.status === 500), 20_000, 50);
    await fetch(`${first.url}/v1.0/shutdown`, { method: 'POST' });
    await first.exited;
    await fetch(`${app.url}/control/behavior`, { method: 'POST', body: JSON.stringify({}) });
    const second = await startSidecar({ appId: 'mqtt-resume', args: ['--app-port', String(app.port)], resources });
    const delivered = await eventually(async () => (await app.received(route)).find((d) => d.body === '"keep me"' && d.status === 200), 30_000, 100);
    expect(delivered.method).toBe('POST');
    await fetch(`${second.url}/v1.0/shutdown`, { method: 'POST' });
  }, 90_000);
});
