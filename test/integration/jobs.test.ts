// The jobs API through real sidecars: two sidecars of one app id share a SQLite state store;
// each trigger reaches exactly one of them, jobs survive a restart, failure policy retries.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startSidecar, stopProcess, tempDir, type SidecarProc } from '../helpers/processes.js';
import { serviceAvailable } from '../helpers/services.js';

interface Delivery {
  app: string;
  name: string;
  body: string;
  type: string | undefined;
  at: number;
}

const deliveries: Delivery[] = [];
/** Job names the apps fail with 500. */
const failing = new Set<string>();
const servers: Server[] = [];

async function app(label: string): Promise<number> {
  const s = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const m = /^\/job\/(.+)$/.exec(req.url ?? '');
      if (req.method === 'POST' && m) {
        const name = decodeURIComponent(m[1]!);
        deliveries.push({ app: label, name, body, type: req.headers['content-type'], at: Date.now() });
        res.statusCode = failing.has(name) ? 500 : 200;
        return void res.end();
      }
      res.statusCode = 404;
      res.end();
    });
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

const dbDir = tempDir('bulwark-jobs-');
const resources = {
  'state.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.sqlite
  version: v1
  metadata:
  - name: connectionString
    value: "${join(dbDir, 'jobs-state.db')}"
  - name: actorStateStore
    value: "true"
`,
};

function sidecar(appPort: number): Promise<SidecarProc> {
  return startSidecar({ appId: 'jobs-app', resources, args: ['--app-port', String(appPort), '--dapr-grpc-port', '0'] });
}

let a: SidecarProc;
let b: SidecarProc;
let portA = 0;
let portB = 0;

beforeAll(async () => {
  portA = await app('A');
  portB = await app('B');
  [a, b] = await Promise.all([sidecar(portA), sidecar(portB)]);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

async function call(sc: SidecarProc, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(`${sc.url}${path}`, { method, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : undefined };
}

const of = (name: string): Delivery[] => deliveries.filter((d) => d.name === name);

describe('jobs API', () => {
  it('schedules, gets, refuses a duplicate without overwrite, deletes', async () => {
    const job = { schedule: '0 0 0 1 1 *', repeats: 3, dueTime: '1000s', ttl: '2000s', data: { hello: 'world' }, failure_policy: { constant: { interval: '3s', max_retries: 5 } } };
    expect((await call(a, 'POST', '/v1.0/jobs/yearly', job)).status).toBe(204);
    expect(await call(b, 'GET', '/v1.0/jobs/yearly')).toEqual({
      status: 200,
      json: { name: 'yearly', schedule: '0 0 0 1 1 *', repeats: 3, dueTime: '1000s', ttl: '2000s', data: { '@type': 'type.googleapis.com/google.protobuf.Value', value: { hello: 'world' } }, failurePolicy: { constant: { interval: '3s', maxRetries: 5 } } },
    });
    const dup = await call(a, 'POST', '/v1.0-alpha1/jobs/yearly', { schedule: '@daily' });
    expect(dup.status).toBe(409);
    expect(dup.json.errorCode).toBe('DAPR_SCHEDULER_SCHEDULE_JOB');
    expect((await call(a, 'POST', '/v1.0-alpha1/jobs/yearly', { schedule: '@daily', overwrite: true })).status).toBe(204);
    expect((await call(a, 'GET', '/v1.0-alpha1/jobs/yearly')).json).toEqual({ name: 'yearly', schedule: '@daily' });
    expect((await call(a, 'DELETE', '/v1.0/jobs/yearly')).status).toBe(204);
    expect((await call(a, 'DELETE', '/v1.0/jobs/yearly')).status).toBe(204);
    const missing = await call(a, 'GET', '/v1.0/jobs/yearly');
    expect(missing.status).toBe(500);
    expect(missing.json).toMatchObject({ errorCode: 'DAPR_SCHEDULER_GET_JOB', details: [{ reason: 'DAPR_SCHEDULER_GET_JOB', metadata: { appID: 'jobs-app' } }] });
  });

  it('answers Dapr scheduler errors for bad requests, naming the field', async () => {
    const cases: Array<[unknown, number, string, RegExp?]> = [
      [{ name: 'x', schedule: '@daily' }, 400, 'DAPR_SCHEDULER_JOB_NAME', /url only/],
      [{ data: 1 }, 400, 'DAPR_SCHEDULER_SCHEDULE_EMPTY'],
      [{ schedule: '* * * * *' }, 400, 'DAPR_SCHEDULER_SCHEDULE_JOB', /schedule/],
      [{ schedule: '@every nope' }, 400, 'DAPR_SCHEDULER_SCHEDULE_JOB', /schedule/],
      [{ dueTime: 'tomorrow' }, 400, 'DAPR_SCHEDULER_SCHEDULE_JOB', /dueTime/],
      [{ schedule: '@daily', ttl: 'x' }, 400, 'DAPR_SCHEDULER_SCHEDULE_JOB', /ttl/],
      ['{bad', 400, 'ERR_MALFORMED_REQUEST'],
    ];
    for (const [body, status, code, msg] of cases) {
      const r = await call(a, 'POST', '/v1.0/jobs/bad', body);
      expect([r.status, r.json.errorCode], JSON.stringify(body)).toEqual([status, code]);
      if (msg) expect(r.json.message).toMatch(msg);
    }
    const empty = await fetch(`${a.url}/v1.0/jobs/bad`, { method: 'POST' });
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { errorCode: string }).errorCode).toBe('DAPR_SCHEDULER_EMPTY');
  });
});

describe('jobs triggers', () => {
  it('a job @every 1s fires on one of two sidecars only, with the data as the body', async () => {
    expect((await call(a, 'POST', '/v1.0/jobs/tick', { schedule: '@every 1s', data: 'someData' })).status).toBe(204);
    await eventually(() => of('tick').length >= 5, 20_000);
    const ticks = of('tick');
    expect(ticks[0]).toMatchObject({ body: '"someData"', type: 'application/json' });
    // Exactly one delivery per trigger: consecutive deliveries are about a second apart, never doubled.
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]!.at - ticks[i - 1]!.at, `delivery ${i}`).toBeGreaterThan(500);
    const span = ticks[ticks.length - 1]!.at - ticks[0]!.at;
    expect(ticks.length).toBeLessThanOrEqual(Math.floor(span / 1000) + 2);
  }, 40_000);

  it('survives a restart of every sidecar', async () => {
    await Promise.all([stopProcess(a), stopProcess(b)]);
    const stoppedAt = Date.now();
    a = await sidecar(portA);
    await eventually(() => of('tick').some((d) => d.at > stoppedAt + 200), 20_000);
    const n = of('tick').length;
    await eventually(() => of('tick').length >= n + 2, 20_000);
    expect((await call(a, 'DELETE', '/v1.0/jobs/tick')).status).toBe(204);
  }, 60_000);

  it('stops after `repeats` and removes the job', async () => {
    expect((await call(a, 'POST', '/v1.0/jobs/twice', { schedule: '@every 1s', repeats: 2 })).status).toBe(204);
    await eventually(async () => (await call(a, 'GET', '/v1.0/jobs/twice')).status === 500, 20_000);
    expect(of('twice')).toHaveLength(2);
    expect(of('twice')[0]!.body).toBe('');
  }, 30_000);

  it('retries a failed trigger per the failure policy, then gives up', async () => {
    failing.add('flaky');
    expect((await call(a, 'POST', '/v1.0/jobs/flaky', { dueTime: '0s', failurePolicy: { constant: { interval: '300ms', maxRetries: 2 } } })).status).toBe(204);
    await eventually(async () => (await call(a, 'GET', '/v1.0/jobs/flaky')).status === 500, 20_000);
    expect(of('flaky')).toHaveLength(3);
    failing.add('dropped');
    expect((await call(a, 'POST', '/v1.0/jobs/dropped', { dueTime: '0s', failurePolicy: { drop: {} } })).status).toBe(204);
    await eventually(async () => (await call(a, 'GET', '/v1.0/jobs/dropped')).status === 500, 20_000);
    expect(of('dropped')).toHaveLength(1);
  }, 30_000);
});

const redisUp = await serviceAvailable('redis');
describe.skipIf(!redisUp)('jobs in a Redis state store', () => {
  it('two sidecars deliver each @every 1s trigger once', async () => {
    const appId = `jobs-redis-${process.pid}-${Date.now()}`;
    const redis = {
      'state.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.redis
  version: v1
  metadata:
  - name: redisHost
    value: "127.0.0.1:6379"
  - name: actorStateStore
    value: "true"
`,
    };
    const start = (port: number): Promise<SidecarProc> => startSidecar({ appId, resources: redis, args: ['--app-port', String(port), '--dapr-grpc-port', '0'] });
    const [x, y] = await Promise.all([start(portA), start(portB)]);
    expect((await call(x, 'POST', '/v1.0/jobs/redis-tick', { schedule: '@every 1s', data: 1 })).status).toBe(204);
    await eventually(() => of('redis-tick').length >= 4, 20_000);
    const ticks = of('redis-tick');
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]!.at - ticks[i - 1]!.at, `delivery ${i}`).toBeGreaterThan(500);
    expect((await call(y, 'DELETE', '/v1.0/jobs/redis-tick')).status).toBe(204);
    await Promise.all([stopProcess(x), stopProcess(y)]);
  }, 40_000);
});
