// The Dapr gRPC API (dapr.proto.runtime.v1.Dapr) through real sidecars: the official
// @dapr/dapr DaprClient in GRPC mode, unchanged, against a caller sidecar (API token on), and a
// callee sidecar whose app subscribes, hosts an actor type and answers invocations. Raw grpc-js
// calls on the same .proto check what the SDK cannot show: token refusal, status codes,
// UNIMPLEMENTED, trace context, metrics.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ActorId, CommunicationProtocolEnum, DaprClient, HttpMethod } from '@dapr/dapr';
import { Metadata, credentials, loadPackageDefinition, status as Code, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../cli/free-port.js';
import { ROOT, eventually, startSidecar, stopProcess, tempDir, type SidecarProc } from '../helpers/processes.js';

const require = createRequire(import.meta.url);
// The SDK's gRPC actor client (not exported from the package index).
const { default: ActorClient } = (await import('@dapr/dapr/actors/client/ActorClient/ActorClient.js' as string)) as {
  default: new (host: string, port: string, protocol: CommunicationProtocolEnum, options: object) => {
    actor: {
      invoke(type: string, id: ActorId, method: string, body?: unknown): Promise<unknown>;
      registerActorReminder(type: string, id: ActorId, name: string, r: { period?: string; dueTime?: string; data?: unknown }): Promise<void>;
      unregisterActorReminder(type: string, id: ActorId, name: string): Promise<void>;
    };
  };
};

const RUN = randomUUID().slice(0, 8);
const TOKEN = `token-${RUN}`;
const CALLER = `grpc-caller-${RUN}`;
const CALLEE = `grpc-callee-${RUN}`;
const APP = join(ROOT, 'test/fixtures/grpc-api-app.mjs');

function resources(home: string): Record<string, string> {
  const c = (name: string, type: string, md: Record<string, string>): string =>
    `apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: ${name}\nspec:\n  type: ${type}\n  version: v1\n  metadata:\n${Object.entries(md)
      .map(([k, v]) => `  - name: ${k}\n    value: "${v}"\n`)
      .join('')}`;
  writeFileSync(join(home, 'secrets.json'), JSON.stringify({ 'db-password': 's3cret', api: { key: 'k1' } }));
  return {
    'state.yaml': c('statestore', 'state.sqlite', { connectionString: join(home, 'state.db'), actorStateStore: 'true' }),
    'pubsub.yaml': c('pubsub', 'pubsub.sqlite', { connectionString: join(home, 'pubsub.db') }),
    'lock.yaml': c('lockstore', 'lock.sqlite', { connectionString: join(home, 'lock.db') }),
    'config.yaml': c('configstore', 'configuration.sqlite', { connectionString: join(home, 'configuration.db') }),
    'files.yaml': c('files', 'bindings.localstorage', { rootPath: join(home, 'files') }),
    'secrets.yaml': c('secretstore', 'secretstores.local.file', { secretsFile: join(home, 'secrets.json'), nestedSeparator: ':' }),
  };
}

/** A grpc-js client for dapr.proto.runtime.v1.Dapr from the same .proto the sidecar serves. */
function rawClient(port: number): Client & Record<string, (req: object, md: Metadata, cb: (err: ServiceError | null, res: Record<string, unknown>) => void) => void> {
  const dir = `${dirname(require.resolve('@dapr/dapr/package.json'))}/proto`;
  const def = loadSync('dapr/proto/runtime/v1/dapr.proto', { includeDirs: [dir], longs: String, enums: Number, defaults: true, oneofs: true });
  const pkg = loadPackageDefinition(def) as unknown as { dapr: { proto: { runtime: { v1: { Dapr: new (addr: string, c: ReturnType<typeof credentials.createInsecure>) => never } } } } };
  return new pkg.dapr.proto.runtime.v1.Dapr(`127.0.0.1:${port}`, credentials.createInsecure());
}

function call(client: ReturnType<typeof rawClient>, method: string, req: object, md = new Metadata()): Promise<{ err: ServiceError | null; res: Record<string, unknown> | undefined; headers: Metadata | undefined }> {
  return new Promise((resolve) => {
    let headers: Metadata | undefined;
    const c = client[method]!(req, md, (err, res) => resolve({ err, res, headers })) as unknown as { on(ev: 'metadata', fn: (m: Metadata) => void): void };
    c.on('metadata', (m) => (headers = m));
  });
}

const withToken = (extra: Record<string, string> = {}): Metadata => {
  const md = new Metadata();
  md.set('dapr-api-token', TOKEN);
  for (const [k, v] of Object.entries(extra)) md.set(k, v);
  return md;
};

describe('gRPC API (dapr.proto.runtime.v1.Dapr) with the official SDK', () => {
  let home: string;
  let caller: SidecarProc;
  let callee: SidecarProc;
  let callerGrpc: number;
  let calleeGrpc: number;
  let callerMetrics: number;
  let client: DaprClient;
  let raw: ReturnType<typeof rawClient>;

  beforeAll(async () => {
    home = tempDir('bulwark-grpc-');
    const res = resources(home);
    [calleeGrpc, callerGrpc, callerMetrics] = await Promise.all([freePort(), freePort(), freePort()]);
    callee = await startSidecar({
      appId: CALLEE,
      home,
      resources: res,
      args: ['--app-port', String(await freePort()), '--dapr-grpc-port', String(calleeGrpc), '--log-level', 'info'],
      app: [process.execPath, APP],
    });
    await callee.waitFor(/actors: joined placement/, 30_000);
    await callee.waitFor(/subscribed to topic grpc-orders/, 30_000);
    caller = await startSidecar({
      appId: CALLER,
      home,
      resources: res,
      args: ['--dapr-grpc-port', String(callerGrpc), '--metrics-port', String(callerMetrics)],
      env: { DAPR_API_TOKEN: TOKEN },
    });
    client = new DaprClient({ daprHost: '127.0.0.1', daprPort: String(callerGrpc), communicationProtocol: CommunicationProtocolEnum.GRPC, daprApiToken: TOKEN });
    raw = rawClient(callerGrpc);
  }, 90_000);

  afterAll(async () => {
    raw?.close();
    await client?.stop();
    if (caller) await stopProcess(caller);
    if (callee) await stopProcess(callee);
  });

  it('answers GetMetadata (the SDK readiness probe) and SetMetadata', async () => {
    await client.metadata.set('team', 'grpc');
    const md = await client.metadata.get();
    expect(md.id).toBe(CALLER);
    expect(md.components.map((c) => c.name).sort()).toEqual(['configstore', 'files', 'lockstore', 'pubsub', 'secretstore', 'statestore']);
    expect(md.components.find((c) => c.name === 'statestore')).toMatchObject({ type: 'state.sqlite', version: 'v1' });
    expect(md.extended).toMatchObject({ team: 'grpc' });
  });

  it('saves, reads, bulk-reads, deletes and transacts state', async () => {
    await client.state.save('statestore', [
      { key: `a-${RUN}`, value: { n: 1 } },
      { key: `b-${RUN}`, value: 'plain text' },
    ]);
    expect(await client.state.get('statestore', `a-${RUN}`)).toEqual({ n: 1 });
    expect(await client.state.get('statestore', `b-${RUN}`)).toBe('plain text');
    expect(await client.state.get('statestore', `missing-${RUN}`)).toBe('');
    const bulk = await client.state.getBulk('statestore', [`a-${RUN}`, `b-${RUN}`]);
    expect(bulk.map((b) => [b.key, b.data])).toEqual([
      [`a-${RUN}`, { n: 1 }],
      [`b-${RUN}`, 'plain text'],
    ]);
    await client.state.delete('statestore', `a-${RUN}`);
    expect(await client.state.get('statestore', `a-${RUN}`)).toBe('');
    await client.state.transaction('statestore', [
      { operation: 'upsert', request: { key: `t-${RUN}`, value: 'in a transaction' } },
      { operation: 'delete', request: { key: `b-${RUN}` } },
    ]);
    expect(await client.state.get('statestore', `t-${RUN}`)).toBe('in a transaction');
    expect(await client.state.get('statestore', `b-${RUN}`)).toBe('');
    // What the gRPC front stored, the HTTP API reads (one block behind both).
    const http = await fetch(`${caller.url}/v1.0/state/statestore/t-${RUN}`, { headers: { 'dapr-api-token': TOKEN } });
    expect(await http.text()).toBe('in a transaction');
  });

  it("answers an unknown store with Dapr's gRPC status and message", async () => {
    const r = await call(raw, 'GetState', { storeName: 'nope', key: 'k' }, withToken());
    expect(r.err?.code).toBe(Code.INVALID_ARGUMENT);
    expect(r.err?.details).toBe('state store nope is not found');
    const lock = await call(raw, 'TryLockAlpha1', { storeName: 'nolock', resourceId: 'r', lockOwner: 'o', expiryInSeconds: 5 }, withToken());
    expect(lock.err?.code).toBe(Code.INVALID_ARGUMENT);
    const secret = await call(raw, 'GetSecret', { storeName: 'nosecrets', key: 'k' }, withToken());
    expect(secret.err?.code).toBe(Code.INVALID_ARGUMENT);
    const etag = await call(raw, 'SaveState', { storeName: 'statestore', states: [{ key: `e-${RUN}`, value: Buffer.from('"v"'), etag: { value: '999' } }] }, withToken());
    expect(etag.err?.code).toBe(Code.ABORTED);
  });

  it('refuses calls without the API token, and answers UNIMPLEMENTED for rpcs it does not serve', async () => {
    const none = await call(raw, 'GetMetadata', {});
    expect(none.err?.code).toBe(Code.UNAUTHENTICATED);
    const wrong = await call(raw, 'GetMetadata', {}, (() => {
      const md = new Metadata();
      md.set('dapr-api-token', 'wrong');
      return md;
    })());
    expect(wrong.err?.code).toBe(Code.UNAUTHENTICATED);
    const probe = await call(raw, 'GetMetadata', {}, withToken());
    expect(probe.err).toBeNull();
    const un = await call(raw, 'SubtleGetKeyAlpha1', { componentName: 'x', name: 'k' }, withToken());
    expect(un.err?.code).toBe(Code.UNIMPLEMENTED);
    expect(un.err?.details).toBe('dapr.proto.runtime.v1.Dapr/SubtleGetKeyAlpha1 is not implemented by bulwark');
  });

  it('publishes an event that the subscriber app behind the other sidecar receives', async () => {
    await client.pubsub.publish('pubsub', 'grpc-orders', { order: `o-${RUN}` });
    const line = await callee.waitFor(new RegExp(`EVENT (\\{"kind":"delivery".*o-${RUN}.*)`), 20_000);
    const ev = JSON.parse(line[1]!) as { event: { data: unknown; source: string; topic: string } };
    expect(ev.event).toMatchObject({ data: { order: `o-${RUN}` }, source: CALLER, topic: 'grpc-orders' });
    const bulk = await client.pubsub.publishBulk('pubsub', 'grpc-orders', [{ order: `bulk1-${RUN}` }, { order: `bulk2-${RUN}` }]);
    expect(bulk.failedMessages).toEqual([]);
    await callee.waitFor(new RegExp(`bulk1-${RUN}`), 20_000);
    await callee.waitFor(new RegExp(`bulk2-${RUN}`), 20_000);
  });

  it('invokes the other app through both sidecars', async () => {
    const r = (await client.invoker.invoke(CALLEE, 'orders/7', HttpMethod.POST, { hello: 'world' })) as Record<string, unknown>;
    expect(r).toMatchObject({ method: 'POST', path: '/orders/7', body: '{"hello":"world"}', caller: CALLER });
    const q = await call(raw, 'InvokeService', { id: CALLEE, message: { method: 'search', httpExtension: { verb: 1, querystring: 'x=1&y=2' } } }, withToken());
    expect(JSON.parse((q.res!.data as { value: Buffer }).value.toString())).toMatchObject({ method: 'GET', path: '/search', query: '?x=1&y=2' });
    const g = (await client.invoker.invoke(CALLEE, 'items', HttpMethod.GET)) as Record<string, unknown>;
    expect(g).toMatchObject({ method: 'GET', path: '/items', caller: CALLER });
    // An app status outside 2xx is a gRPC error coded as Dapr codes it, with dapr-http-status.
    const nf = await call(raw, 'InvokeService', { id: CALLEE, message: { method: 'nothing', httpExtension: { verb: 1, querystring: 'status=404' } } }, withToken());
    expect(nf.err?.code).toBe(Code.NOT_FOUND);
    expect(nf.headers?.get('dapr-http-status')).toEqual(['404']);
    const unknown = await call(raw, 'InvokeService', { id: `nobody-${RUN}`, message: { method: 'x' } }, withToken());
    expect(unknown.err?.code).toBe(Code.INTERNAL);
    expect(unknown.err?.details).toContain(`failed to invoke, id: nobody-${RUN}`);
  });

  it('carries the caller trace context (traceparent or grpc-trace-bin) to the called app', async () => {
    const traceId = randomUUID().replace(/-/g, '');
    const viaHeader = await call(raw, 'InvokeService', { id: CALLEE, message: { method: 'trace', contentType: 'text/plain', httpExtension: { verb: 3 } } }, withToken({ traceparent: `00-${traceId}-b7ad6b7169203331-01` }));
    expect(viaHeader.err).toBeNull();
    const echoed = JSON.parse((viaHeader.res!.data as { value: Buffer }).value.toString()) as { traceparent: string; contentType: string };
    expect(echoed.traceparent.split('-')[1]).toBe(traceId);
    expect(echoed.contentType).toBe('text/plain');
    const bin = Buffer.concat([Buffer.from([0, 0]), Buffer.from(traceId, 'hex'), Buffer.from([1]), Buffer.from('00f067aa0ba902b7', 'hex'), Buffer.from([2, 1])]);
    const md = withToken();
    md.set('grpc-trace-bin', bin);
    const viaBin = await call(raw, 'InvokeService', { id: CALLEE, message: { method: 'trace', httpExtension: { verb: 1 } } }, md);
    expect(viaBin.err).toBeNull();
    const echoedBin = JSON.parse((viaBin.res!.data as { value: Buffer }).value.toString()) as { traceparent: string };
    expect(echoedBin.traceparent.split('-')[1]).toBe(traceId);
  });

  it('invokes an output binding, reads secrets, configuration and takes a lock', async () => {
    await client.binding.send('files', 'create', { stored: RUN }, { fileName: `f-${RUN}.json` });
    const got = (await client.binding.send('files', 'get', undefined, { fileName: `f-${RUN}.json` })) as { data: Uint8Array };
    expect(JSON.parse(Buffer.from(got.data).toString())).toEqual({ stored: RUN });

    expect(await client.secret.get('secretstore', 'db-password')).toEqual({ 'db-password': 's3cret' });
    const all = (await client.secret.getBulk('secretstore')) as Record<string, Record<string, string>>;
    expect(all['db-password']).toEqual({ 'db-password': 's3cret' });
    expect(all['api:key']).toEqual({ 'api:key': 'k1' });

    const db = new Database(join(home, 'configuration.db'));
    db.exec("CREATE TABLE IF NOT EXISTS configuration (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL, version TEXT NOT NULL DEFAULT '', metadata TEXT)");
    db.prepare('INSERT OR REPLACE INTO configuration (key, value, version) VALUES (?, ?, ?)').run(`color-${RUN}`, 'blue', '3');
    db.close();
    const cfg = await client.configuration.get('configstore', [`color-${RUN}`]);
    expect(cfg.items[`color-${RUN}`]).toMatchObject({ value: 'blue', version: '3' });
    // SubscribeConfiguration: a stream of updates, ended by the SDK's stop() (Unsubscribe).
    const seen: Array<Record<string, { value: string }>> = [];
    const sub = await client.configuration.subscribeWithKeys('configstore', [`color-${RUN}`], async (u) => void seen.push(u.items as Record<string, { value: string }>));
    // The stream opens in the background: write new values until one arrives through it.
    let n = 0;
    await eventually(async () => {
      const w = new Database(join(home, 'configuration.db'));
      w.prepare('UPDATE configuration SET value = ?, version = ? WHERE key = ?').run(`green-${++n}`, String(n), `color-${RUN}`);
      w.close();
      await new Promise((r) => setTimeout(r, 300));
      return seen.some((items) => items[`color-${RUN}`]?.value.startsWith('green-'));
    });
    await sub.stop();

    const resource = `res-${RUN}`;
    expect(await client.lock.lock('lockstore', resource, 'owner-a', 30)).toEqual({ success: true });
    expect(await client.lock.lock('lockstore', resource, 'owner-b', 30)).toEqual({ success: false });
    expect((await client.lock.unlock('lockstore', resource, 'owner-b')).status).toBe(2); // LOCK_BELONGS_TO_OTHERS
    expect((await client.lock.unlock('lockstore', resource, 'owner-a')).status).toBe(0); // SUCCESS
  });

  it('calls an actor hosted behind the other sidecar, and fires a reminder set over gRPC', async () => {
    const actors = new ActorClient('127.0.0.1', String(callerGrpc), CommunicationProtocolEnum.GRPC, { daprHost: '127.0.0.1', daprPort: String(callerGrpc), communicationProtocol: CommunicationProtocolEnum.GRPC, daprApiToken: TOKEN });
    const id = new ActorId(`a-${RUN}`);
    expect(await actors.actor.invoke('GrpcActor', id, 'hello', { n: 1 })).toEqual({ actor: `a-${RUN}`, method: 'hello', got: { n: 1 } });
    const failed = await call(raw, 'InvokeActor', { actorType: 'GrpcActor', actorId: `a-${RUN}`, method: 'fail' }, withToken());
    expect(failed.err?.code).toBe(Code.INTERNAL);

    // Reminders are kept by a sidecar that hosts the type: the callee's.
    const hostActors = new ActorClient('127.0.0.1', String(calleeGrpc), CommunicationProtocolEnum.GRPC, { daprHost: '127.0.0.1', daprPort: String(calleeGrpc), communicationProtocol: CommunicationProtocolEnum.GRPC });
    await hostActors.actor.registerActorReminder('GrpcActor', id, 'ping', { dueTime: '0s', period: '1s', data: JSON.stringify({ tag: RUN }) });
    const fired = await callee.waitFor(new RegExp(`EVENT (\\{"kind":"remind","id":"a-${RUN}","name":"ping".*)`), 20_000);
    expect(JSON.parse(fired[1]!)).toMatchObject({ body: { data: { tag: RUN }, period: '1s' } });
    await hostActors.actor.unregisterActorReminder('GrpcActor', id, 'ping');
    const nonHosted = await call(raw, 'RegisterActorReminder', { actorType: 'GrpcActor', actorId: 'x', name: 'r', dueTime: '1s' }, withToken());
    expect(nonHosted.err?.code).toBe(Code.PERMISSION_DENIED);
  });

  it("counts rpcs under Dapr's gRPC server metric names", async () => {
    const text = await eventually(async () => {
      const t = await (await fetch(`http://127.0.0.1:${callerMetrics}/`)).text();
      return t.includes('grpc_server_method="/dapr.proto.runtime.v1.Dapr/GetState"') ? t : undefined;
    });
    expect(text).toMatch(/dapr_grpc_io_server_completed_rpcs\{[^}]*grpc_server_method="\/dapr\.proto\.runtime\.v1\.Dapr\/GetState",grpc_server_status="OK"[^}]*\} [1-9]/);
    expect(text).toMatch(/dapr_grpc_io_server_completed_rpcs\{[^}]*grpc_server_method="\/dapr\.proto\.runtime\.v1\.Dapr\/GetState",grpc_server_status="InvalidArgument"[^}]*\} 1/);
    expect(text).toMatch(/dapr_grpc_io_server_server_latency_bucket\{[^}]*grpc_server_method="\/dapr\.proto\.runtime\.v1\.Dapr\/GetMetadata"/);
  });
});
