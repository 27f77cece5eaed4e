// The foundation through real processes: `bulwark run` / `sidecar` / `run -f` / `list` / `stop`,
// the metadata, health, token and shutdown APIs, and every bad input refused with a clear message.
import { createServer } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, eventually, startProcess, startSidecar, tempDir, writeFolder } from '../helpers/processes.js';

const SECRETS = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: localsecrets
spec:
  type: secretstores.local.file
  metadata:
  - name: secretsFile
    value: secrets.json
`;

const BROKEN_IGNORED = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: broken
spec:
  type: secretstores.local.file
  ignoreErrors: true
  metadata:
  - name: secretsFile
    value: /nonexistent/secrets.json
`;

// An app that calls its sidecar from its very first line, then serves /slow and /hello.
const APP = `
import { createServer } from 'node:http';
const sidecar = 'http://127.0.0.1:' + process.env.DAPR_HTTP_PORT;
const headers = process.env.DAPR_API_TOKEN ? { 'dapr-api-token': process.env.DAPR_API_TOKEN } : {};
const first = await fetch(sidecar + '/v1.0/metadata', { headers });
console.log('FIRST-CALL ' + first.status + ' ' + JSON.stringify(await first.json()));
console.log('ENV ' + JSON.stringify({ APP_ID: process.env.APP_ID, APP_PORT: process.env.APP_PORT, DAPR_GRPC_PORT: process.env.DAPR_GRPC_PORT, TOKEN: process.env.DAPR_API_TOKEN ?? null }));
createServer((req, res) => {
  if (req.url === '/slow') { setTimeout(() => res.end('slow done'), 1500); return; }
  res.setHeader('x-caller', String(req.headers['dapr-caller-app-id']));
  res.end('hello ' + req.method);
}).listen(Number(process.env.APP_PORT), '127.0.0.1', () => console.log('APP-LISTENING'));
`;

function appFolder(extra: Record<string, string> = {}): string {
  return writeFolder({ 'app.mjs': APP, 'secrets.json': JSON.stringify({ db: { password: 's3cret' }, plain: 'v' }), ...extra });
}

async function runCli(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<{ code: number | null; out: string }> {
  const p = startProcess(process.execPath, [CLI, ...args], { env, ...(cwd ? { cwd } : {}) });
  const { code } = await p.exited;
  return { code, out: p.output() };
}

describe('bulwark run', () => {
  it('starts the sidecar before the app, so the app reaches the API from its first line', async () => {
    const dir = appFolder();
    const sc = await startSidecar({ appId: 'first', app: [process.execPath, 'app.mjs'], args: ['--app-port', '0'], resources: { 's.yaml': SECRETS }, cwd: dir });
    const m = await sc.waitFor(/FIRST-CALL (\d+) (.*)/);
    expect(m[1]).toBe('200');
    const meta = JSON.parse(m[2]!);
    expect(meta.id).toBe('first');
    expect(meta.components).toEqual([{ name: 'localsecrets', type: 'secretstores.local.file', version: 'v1', capabilities: [] }]);
    const env = JSON.parse((await sc.waitFor(/ENV (.*)/))[1]!);
    expect(env.APP_ID).toBe('first');
    expect(Number(env.APP_PORT)).toBeGreaterThan(0);
    expect(Number(env.DAPR_GRPC_PORT)).toBeGreaterThan(0);
    // App output carries Dapr's prefix.
    await sc.waitFor(/== APP == APP-LISTENING/);
    // Health turns 204 once the app port is reachable.
    await eventually(async () => (await fetch(`${sc.url}/v1.0/healthz`)).status === 204);
    // The CLI recorded its facts for list/stop.
    const extended = (await (await fetch(`${sc.url}/v1.0/metadata`)).json()).extended;
    expect(extended.cliPID).toBe(String(sc.pid));
    expect(Number(extended.appPID)).toBeGreaterThan(0);
    expect(extended.appCommand).toContain('app.mjs');
    // The app is reachable through invocation of its own id.
    const res = await fetch(`${sc.url}/v1.0/invoke/first/method/hello`, { method: 'PUT' });
    expect(await res.text()).toBe('hello PUT');
    expect(res.headers.get('x-caller')).toBe('first');
  });

  it('exits with the app exit code', async () => {
    const dir = writeFolder({ 'exit.mjs': 'console.log("bye"); process.exit(7);' });
    const r = await runCli(['run', '--app-id', 'exiter', '--dapr-http-port', '0', '--metrics-port', '0', '--dapr-grpc-port', '0', '--resources-path', tempDir(), '--', process.execPath, 'exit.mjs'], { BULWARK_HOME: tempDir() }, dir);
    expect(r.out).toContain('== APP == bye');
    expect(r.code).toBe(7);
  });

  it('refuses calls without the API token but keeps health open', async () => {
    const dir = appFolder();
    const sc = await startSidecar({ appId: 'guarded', app: [process.execPath, 'app.mjs'], args: ['--app-port', '0'], env: { DAPR_API_TOKEN: 'tok-123' }, cwd: dir });
    // The app got the token and used it on its first call.
    expect((await sc.waitFor(/FIRST-CALL (\d+)/))[1]).toBe('200');
    const denied = await fetch(`${sc.url}/v1.0/metadata`);
    expect(denied.status).toBe(401);
    expect(await denied.text()).toBe('invalid api token');
    expect((await fetch(`${sc.url}/v1.0/metadata`, { headers: { 'dapr-api-token': 'wrong' } })).status).toBe(401);
    expect((await fetch(`${sc.url}/v1.0/metadata`, { headers: { 'dapr-api-token': 'tok-123' } })).status).toBe(200);
    await eventually(async () => (await fetch(`${sc.url}/v1.0/healthz`)).status === 204);
    expect((await fetch(`${sc.url}/v1.0/healthz/outbound`)).status).toBe(204);
  });

  it('lets an in-flight request finish on SIGTERM, then stops', async () => {
    const dir = appFolder();
    const sc = await startSidecar({ appId: 'drainer', app: [process.execPath, 'app.mjs'], args: ['--app-port', '0'], cwd: dir });
    await eventually(async () => (await fetch(`${sc.url}/v1.0/healthz`)).status === 204);
    const slow = fetch(`${sc.url}/v1.0/invoke/drainer/method/slow`).then(async (r) => ({ status: r.status, text: await r.text() }));
    await new Promise((r) => setTimeout(r, 300));
    sc.child.kill('SIGTERM');
    expect(await slow).toEqual({ status: 200, text: 'slow done' });
    expect((await sc.exited).code).toBe(0);
    // New connections are refused once it has stopped.
    await expect(fetch(`${sc.url}/v1.0/metadata`)).rejects.toThrow();
  });

  it('stops through POST /v1.0/shutdown', async () => {
    const dir = appFolder();
    const sc = await startSidecar({ appId: 'shutter', app: [process.execPath, 'app.mjs'], args: ['--app-port', '0'], cwd: dir });
    await sc.waitFor(/APP-LISTENING/);
    expect((await fetch(`${sc.url}/v1.0/shutdown`, { method: 'POST' })).status).toBe(204);
    expect((await sc.exited).code).toBe(0);
  });
});

describe('bulwark sidecar API', () => {
  it('answers metadata, PUT metadata, healthz and unknown routes as Dapr does', async () => {
    const sc = await startSidecar({ appId: 'meta', resources: { 's.yaml': BROKEN_IGNORED } });
    expect((await fetch(`${sc.url}/v1.0/metadata/myKey`, { method: 'PUT', body: 'my value' })).status).toBe(204);
    const meta = await (await fetch(`${sc.url}/v1.0/metadata`)).json();
    expect(meta).toMatchObject({ id: 'meta', extended: { myKey: 'my value' }, components: [], httpEndpoints: [], subscriptions: [] });
    expect(meta.extended.daprRuntimeVersion).toBeTruthy();
    expect(sc.output()).toMatch(/failed to initialize and is skipped \(ignoreErrors\)/);
    expect((await fetch(`${sc.url}/v1.0/healthz`)).status).toBe(204);
    expect((await fetch(`${sc.url}/v1.0/healthz?appid=other`)).status).toBe(500);
    const unknown = await fetch(`${sc.url}/v1.0/nope`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ errorCode: 'ERR_DIRECT_INVOKE', message: 'failed getting app id either from the URL path or the header dapr-app-id' });
    // A wrong verb on a known path is the same fallback.
    expect((await fetch(`${sc.url}/v1.0/metadata`, { method: 'DELETE' })).status).toBe(404);
  });

  it('refuses a body over the size limit with 413 and Dapr error body', async () => {
    const sc = await startSidecar({ appId: 'big', args: ['--dapr-http-max-request-size', '1'] });
    const res = await fetch(`${sc.url}/v1.0/metadata/k`, { method: 'PUT', body: Buffer.alloc(2 * 1024 * 1024, 97) });
    expect(res.status).toBe(413);
    expect((await res.json()).errorCode).toBe('ERR_BODY_READ');
    expect((await fetch(`${sc.url}/v1.0/metadata/k`, { method: 'PUT', body: 'small' })).status).toBe(204);
  });

  it('serves only the APIs a Configuration allows', async () => {
    const cfgDir = writeFolder({
      'config.yaml': `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: apis
spec:
  api:
    allowed:
    - name: metadata
      version: v1.0
      protocol: http
`,
    });
    const sc = await startSidecar({ appId: 'apis', resources: { 's.yaml': SECRETS.replace('secrets.json', join(appFolder(), 'secrets.json')) }, args: ['--config', join(cfgDir, 'config.yaml')] });
    expect((await fetch(`${sc.url}/v1.0/metadata`)).status).toBe(200);
    const denied = await fetch(`${sc.url}/v1.0/secrets/localsecrets/plain`);
    expect(denied.status).toBe(404);
    expect((await denied.json()).errorCode).toBe('ERR_DIRECT_INVOKE');
    expect((await fetch(`${sc.url}/v1.0/healthz`)).status).toBe(204);
  });
});

describe('bulwark run -f, list and stop', () => {
  it('starts two apps from a run file, lists them, and stops them with stop -f', async () => {
    const home = tempDir();
    const root = writeFolder({
      'dapr.yaml': `version: 1
common:
  env:
    GREETING: from-common
  resourcesPaths: [./empty]
apps:
- appID: alpha
  appDirPath: ./alpha/
  command: ["node", "app.mjs"]
- appID: beta
  appDirPath: ./beta/
  appLogDestination: console
  command: ["node", "app.mjs"]
  env:
    GREETING: from-beta
`,
      'empty/.keep': '',
      'alpha/app.mjs': APP + '\nconsole.log("GREETING " + process.env.GREETING);',
      'beta/app.mjs': APP + '\nconsole.log("GREETING " + process.env.GREETING);',
    });
    const run = startProcess(process.execPath, [CLI, 'run', '-f', root], { env: { BULWARK_HOME: home }, cwd: root });
    await run.waitFor(/== APP - beta == GREETING from-beta/);
    const listed = await eventually(async () => {
      const r = await runCli(['list', '-o', 'json'], { BULWARK_HOME: home });
      const rows = JSON.parse(r.out) as Array<Record<string, unknown>>;
      return rows.length === 2 && rows.every((x) => Number(x.appPid) > 0) ? rows : undefined;
    });
    expect(listed.map((r) => r.appId).sort()).toEqual(['alpha', 'beta']);
    expect(listed.every((r) => r.cliPid === run.pid && r.runFile === join(root, 'dapr.yaml'))).toBe(true);
    // alpha logs to its file (fileAndConsole default) with the common env.
    const alphaLog = await eventually(() => {
      const text = readFileSync(join(root, 'alpha', '.dapr', 'logs', readdirSync(join(root, 'alpha', '.dapr', 'logs')).find((f) => f.startsWith('alpha_app_'))!), 'utf8');
      return text.includes('GREETING from-common') ? text : undefined;
    });
    expect(alphaLog).toContain('APP-LISTENING');
    const table = await runCli(['list'], { BULWARK_HOME: home });
    expect(table.out).toMatch(/APP ID\s+HTTP PORT/);
    expect(table.out).toMatch(/alpha/);
    const stop = await runCli(['stop', '-f', join(root, 'dapr.yaml')], { BULWARK_HOME: home });
    expect(stop.code).toBe(0);
    expect((await run.exited).code).toBe(0);
    expect(JSON.parse((await runCli(['list', '-o', 'json'], { BULWARK_HOME: home })).out)).toEqual([]);
  });

  it('stops one app by id', async () => {
    const dir = appFolder();
    const sc = await startSidecar({ appId: 'solo', app: [process.execPath, 'app.mjs'], args: ['--app-port', '0'], cwd: dir });
    await sc.waitFor(/APP-LISTENING/);
    const r = await runCli(['stop', '--app-id', 'solo'], { BULWARK_HOME: sc.home });
    expect(r.out).toContain('app stopped successfully: solo');
    expect((await sc.exited).code).toBe(0);
    const missing = await runCli(['stop', '--app-id', 'solo'], { BULWARK_HOME: sc.home });
    expect(missing.code).toBe(1);
    expect(missing.out).toContain('no running app with id solo');
  });
});

describe('bad input', () => {
  const component = (name: string, type = 'secretstores.local.env') => `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: ${name}
spec:
  type: ${type}
  version: v1
`;

  async function refuse(files: Record<string, string>, args: string[] = []): Promise<string> {
    const dir = writeFolder(files);
    const r = await runCli(['sidecar', '--app-id', 'bad', '--dapr-http-port', '0', '--metrics-port', '0', '--dapr-grpc-port', '0', '--resources-path', dir, ...args], { BULWARK_HOME: tempDir() });
    expect(r.code).toBe(1);
    return r.out;
  }

  it('names file, document and field for malformed YAML', async () => {
    const out = await refuse({ 'a.yaml': component('ok') + '---\nkind: [unclosed\n' });
    expect(out).toMatch(/a\.yaml, document 2: invalid YAML/);
  });

  it('names the field of an unknown kind', async () => {
    const out = await refuse({ 'k.yaml': component('ok') + '---\napiVersion: dapr.io/v1alpha1\nkind: Widget\nmetadata:\n  name: w\n' });
    expect(out).toMatch(/k\.yaml, document 2, field kind: unknown kind Widget/);
  });

  it('names the field of an unknown component type', async () => {
    const out = await refuse({ 't.yaml': component('store', 'state.nosuch') });
    expect(out).toMatch(/t\.yaml, document 1, field spec\.type: couldn't find state state\.nosuch\/v1/);
  });

  it('names a missing secret', async () => {
    const out = await refuse({
      'a-secrets.yaml': component('envstore'),
      'b-uses.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: uses
spec:
  type: secretstores.local.env
  version: v1
  metadata:
  - name: prefix
    secretKeyRef:
      name: NOT_SET_ANYWHERE_42
      key: NOT_SET_ANYWHERE_42
auth:
  secretStore: nosuchstore
`,
    });
    expect(out).toMatch(/b-uses\.yaml, document 1, field spec\.metadata\[0\]\.secretKeyRef\.name: secret NOT_SET_ANYWHERE_42 from store nosuchstore/);
  });

  it('names a duplicate name even across scopes', async () => {
    const out = await refuse({ 'a.yaml': component('dup') + 'scopes: [x]\n', 'b.yaml': component('dup') + 'scopes: [y]\n' });
    expect(out).toMatch(/b\.yaml, document 1, field metadata\.name: duplicate Component name dup: also defined in .*a\.yaml, document 1/);
  });

  it('names a bad flag and a port in use', async () => {
    const bad = await runCli(['run', '--app-id', 'x', '--no-such-flag'], { BULWARK_HOME: tempDir() });
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('unknown flag --no-such-flag');
    const noId = await runCli(['run', '--', 'node', '-e', '1'], { BULWARK_HOME: tempDir() });
    expect(noId.code).toBe(1);
    expect(noId.out).toContain('--app-id is required');
    const proto = await runCli(['sidecar', '--app-id', 'x', '--app-protocol', 'grpc'], { BULWARK_HOME: tempDir() });
    expect(proto.out).toContain('--app-protocol grpc: only http is supported');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const inUse = await runCli(['sidecar', '--app-id', 'x', '--dapr-http-port', String(port), '--metrics-port', '0', '--dapr-grpc-port', '0', '--resources-path', tempDir()], { BULWARK_HOME: tempDir() });
      expect(inUse.code).toBe(1);
      expect(inUse.out).toContain(`--dapr-http-port ${port}: port is already in use`);
    } finally {
      blocker.close();
    }
  });
});


describe('embedded defaults', () => {
  it('loads the embedded components when there is neither a resources path nor BULWARK_HOME/components', async () => {
    const sc = await startSidecar({ appId: 'defaults', embeddedDefaults: true });
    const meta = await (await fetch(`${sc.url}/v1.0/metadata`)).json();
    const types = Object.fromEntries((meta.components as Array<{ name: string; type: string }>).map((c) => [c.name, c.type]));
    expect(types).toMatchObject({ statestore: 'state.sqlite', pubsub: 'pubsub.sqlite' });
    // The state store keeps its file under BULWARK_HOME.
    expect((await fetch(`${sc.url}/v1.0/state/statestore`, { method: 'POST', body: JSON.stringify([{ key: 'k', value: 1 }]) })).status).toBe(204);
    expect(readdirSync(sc.home)).toContain('state.db');
  });
});

describe('bulwark init', () => {
  it('writes the embedded default resources once and run picks them up', async () => {
    const home = tempDir();
    const first = await runCli(['init'], { BULWARK_HOME: home });
    expect(first.code).toBe(0);
    expect(first.out).toContain(`written  ${join(home, 'components', 'statestore.yaml')}`);
    expect(first.out).toContain(`written  ${join(home, 'config.yaml')}`);
    const again = await runCli(['init'], { BULWARK_HOME: home });
    expect(again.out).toContain(`kept     ${join(home, 'components', 'statestore.yaml')}`);
    const state = readFileSync(join(home, 'components', 'statestore.yaml'), 'utf8');
    expect(state).toContain('type: state.sqlite');
    expect(state).toContain(join(home, 'state.db'));
  });
});
