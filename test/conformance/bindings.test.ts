// The bindings block with the components that need no service: bindings.cron (fires on
// schedule, probe and `direction`, stops on shutdown), bindings.http against a local
// server, bindings.localstorage (round trip, no escape from rootPath), Dapr's request and
// response rules (data re-serialized, metadata.* headers, trace context, error codes), and the
// official SDK's HTTP binding client.
import { mkdirSync, readFileSync, existsSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CommunicationProtocolEnum, DaprClient } from '@dapr/dapr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, eventually, startProcess, startSidecar, tempDir, writeFolder, type SidecarProc } from '../helpers/processes.js';
import { componentYaml, invokeBinding, startRecordingApp, type RecordingApp } from './bindings-helpers.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('bindings conformance: embedded components', () => {
  let app: RecordingApp;
  let sidecar: SidecarProc;
  let server: Server;
  let serverUrl: string;
  const seen: Seen[] = [];
  const root = tempDir('bulwark-files-');
  const outside = tempDir('bulwark-outside-');

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        if (req.url!.includes('/missing')) {
          res.writeHead(404, { 'x-reason': 'nope' });
          return res.end('not here');
        }
        res.setHeader('x-multi', ['a', 'b']);
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`echo ${req.method} ${req.url}`);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    app = await startRecordingApp(['/tick']);
    sidecar = await startSidecar({
      appId: 'bindings-embedded',
      args: ['--app-port', String(app.port)],
      resources: {
        'tick.yaml': componentYaml('tick', 'bindings.cron', { schedule: '@every 1s' }),
        // The app answers 404 to OPTIONS /unprobed: never started.
        'unprobed.yaml': componentYaml('unprobed', 'bindings.cron', { schedule: '@every 1s' }),
        // `direction` skips the probe (the app would answer 404 on /custom).
        'directed.yaml': componentYaml('directed', 'bindings.cron', { schedule: '* * * * * *', direction: 'input', route: '/custom' }),
        'outonly.yaml': componentYaml('outonly', 'bindings.cron', { schedule: '@every 1s', direction: 'output', route: '/tick-out' }),
        'web.yaml': componentYaml('web', 'bindings.http', { url: `${serverUrl}/base/`, securityToken: 's3cret', securityTokenHeader: 'X-Token' }),
        'files.yaml': componentYaml('files', 'bindings.localstorage', { rootPath: root }),
      },
    });
  });

  afterAll(async () => {
    await new Promise<void>((r) => server?.close(() => r()));
  });

  it('fires a cron binding on schedule with Dapr metadata, no more than once a second for @every 1s', async () => {
    const ticks = await eventually(async () => {
      const list = await app.received('/tick');
      return list.length >= 3 ? list : undefined;
    }, 20_000, 100);
    for (const t of ticks) {
      expect(t.method).toBe('POST');
      expect(t.body).toBe('');
      expect(t.headers['content-type']).toBe('application/json');
      expect(t.headers.timezone).toBe('Local');
      expect(t.headers.readtimeutc).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC$/);
    }
    // At most one tick a second: count what arrives over a window of the test's own clock (load
    // can only delay ticks; one or two fired before the window may arrive inside it).
    const t0 = Date.now();
    const c0 = (await app.received('/tick')).length;
    await sleep(3000);
    const c1 = (await app.received('/tick')).length;
    expect(c1 - c0).toBeLessThanOrEqual(Math.floor((Date.now() - t0) / 1000) + 2);
  });

  it('starts an input binding with direction=input without probing, and never one whose direction is output', async () => {
    await eventually(async () => (await app.received('/custom')).length >= 2, 20_000, 100);
    expect(await app.received('/unprobed')).toHaveLength(0);
    expect(await app.received('/tick-out')).toHaveLength(0);
    // Bindings without `direction` are probed; `direction` skips the probe.
    const probes = (await (await fetch(`${app.url}/control/probes`)).json()) as string[];
    expect(probes).toEqual(expect.arrayContaining(['/tick', '/unprobed']));
    expect(probes).not.toContain('/custom');
    expect(probes).not.toContain('/tick-out');
  });

  it('lists bindings in metadata with INPUT_BINDING / OUTPUT_BINDING capabilities as their direction allows', async () => {
    const meta = (await (await fetch(`${sidecar.url}/v1.0/metadata`)).json()) as { components: Array<{ name: string; type: string; capabilities: string[] }> };
    const caps = Object.fromEntries(meta.components.map((c) => [c.name, c.capabilities]));
    expect(caps.tick).toEqual(['INPUT_BINDING']);
    expect(caps.directed).toEqual(['INPUT_BINDING']);
    expect(caps.outonly).toEqual([]); // cron has no output side
    expect(caps.web).toEqual(['OUTPUT_BINDING']);
    expect(caps.files).toEqual(['OUTPUT_BINDING']);
  });

  it('calls a local server with the HTTP binding: method, path, capitalised headers, token, response metadata', async () => {
    seen.length = 0;
    const r = await invokeBinding(sidecar, 'web', {
      operation: 'get',
      metadata: { path: '/items/1?x=y', 'X-Custom': 'yes', lowercase: 'no' },
    }, { headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } });
    expect(r.status).toBe(200);
    expect(r.text).toBe('echo GET /base/items/1?x=y');
    expect(r.headers.get('metadata.statuscode')).toBe('200');
    expect(r.headers.get('metadata.status')).toBe('200 OK');
    expect(r.headers.get('metadata.x-multi')).toBe('a, b');
    const got = seen[0]!;
    expect(got.method).toBe('GET');
    expect(got.headers['x-custom']).toBe('yes');
    expect(got.headers.lowercase).toBeUndefined();
    expect(got.headers['x-token']).toBe('s3cret');
    expect(got.headers.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-/);
    expect(got.body).toBe('');
  });

  it('posts the re-serialized data with the HTTP binding (create = POST) and PUT works as POST', async () => {
    seen.length = 0;
    const r = await invokeBinding(sidecar, 'web', { operation: 'create', data: { z: 1, a: '<b>' }, metadata: { path: 'orders' } }, { method: 'PUT' });
    expect(r.status).toBe(200);
    expect(seen[0]!.method).toBe('POST');
    expect(seen[0]!.url).toBe('/base/orders');
    // Go's encoding/json: keys sorted, <, > escaped.
    expect(seen[0]!.body).toBe('{"a":"\\u003cb\\u003e","z":1}');
    expect(seen[0]!.headers['content-type']).toBe('application/json; charset=utf-8');
    for (const op of ['put', 'patch']) {
      seen.length = 0;
      expect((await invokeBinding(sidecar, 'web', { operation: op, data: 'Hi' })).status).toBe(200);
      expect(seen[0]!.method).toBe(op.toUpperCase());
      expect(seen[0]!.body).toBe('"Hi"');
    }
    for (const op of ['delete', 'head', 'options']) {
      seen.length = 0;
      expect((await invokeBinding(sidecar, 'web', { operation: op })).status).toBe(200);
      expect(seen[0]!.method).toBe(op.toUpperCase());
    }
  });

  it('fails a non-2xx HTTP answer but keeps its metadata, unless errorIfNot2XX is false', async () => {
    const r = await invokeBinding(sidecar, 'web', { operation: 'get', metadata: { path: 'missing' } });
    expect(r.status).toBe(500);
    expect(r.json()).toMatchObject({ errorCode: 'ERR_INVOKE_OUTPUT_BINDING', message: 'error invoking output binding web: received status code 404' });
    expect(r.headers.get('metadata.statuscode')).toBe('404');
    expect(r.headers.get('metadata.x-reason')).toBe('nope');
    const ok = await invokeBinding(sidecar, 'web', { operation: 'get', metadata: { path: 'missing', errorIfNot2XX: 'false' } });
    expect(ok.status).toBe(200);
    expect(ok.text).toBe('not here');
    expect(ok.headers.get('metadata.statuscode')).toBe('404');
  });

  it('round-trips files with localstorage: create, get, list, delete', async () => {
    const c = await invokeBinding(sidecar, 'files', { operation: 'create', data: 'hello', metadata: { fileName: 'dir/a.txt' } });
    expect(c.status).toBe(200);
    expect(c.json()).toEqual({ fileName: join('dir', 'a.txt') });
    expect(readFileSync(join(root, 'dir/a.txt'), 'utf8')).toBe('hello');
    const g = await invokeBinding(sidecar, 'files', { operation: 'get', metadata: { fileName: 'dir/a.txt' } });
    expect(g.status).toBe(200);
    expect(g.text).toBe('hello');
    // Valid base64 text is decoded, as Dapr does; JSON objects are written as their JSON.
    await invokeBinding(sidecar, 'files', { operation: 'create', data: 'aGVsbG8gd29ybGQ=', metadata: { fileName: 'b64.txt' } });
    expect(readFileSync(join(root, 'b64.txt'), 'utf8')).toBe('hello world');
    await invokeBinding(sidecar, 'files', { operation: 'create', data: { k: 'v' }, metadata: { fileName: join(root, 'abs-inside.json') } });
    expect(readFileSync(join(root, 'abs-inside.json'), 'utf8')).toBe('{"k":"v"}');
    const unnamed = await invokeBinding(sidecar, 'files', { operation: 'create', data: 'x' });
    const generated = (unnamed.json() as { fileName: string }).fileName;
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    const list = await invokeBinding(sidecar, 'files', { operation: 'list' });
    expect((list.json() as string[]).sort()).toEqual([join(root, 'abs-inside.json'), join(root, 'b64.txt'), join(root, 'dir/a.txt'), join(root, generated)].sort());
    const sub = await invokeBinding(sidecar, 'files', { operation: 'list', metadata: { fileName: 'dir' } });
    expect(sub.json()).toEqual([join(root, 'dir/a.txt')]);
    expect((await invokeBinding(sidecar, 'files', { operation: 'delete', metadata: { fileName: 'dir/a.txt' } })).status).toBe(204);
    expect(existsSync(join(root, 'dir/a.txt'))).toBe(false);
    const gone = await invokeBinding(sidecar, 'files', { operation: 'get', metadata: { fileName: 'dir/a.txt' } });
    expect(gone.status).toBe(500);
    expect((gone.json() as { errorCode: string }).errorCode).toBe('ERR_INVOKE_OUTPUT_BINDING');
  });

  it('refuses localstorage paths that leave rootPath: .., absolute paths outside, symlinks out', async () => {
    writeFileSync(join(outside, 'secret.txt'), 'secret');
    mkdirSync(join(root, 'inner'), { recursive: true });
    symlinkSync(outside, join(root, 'inner/link'));
    const attempts: Array<[string, string]> = [
      ['create', '../escaped.txt'],
      ['create', 'inner/../../escaped.txt'],
      ['create', join(outside, 'escaped.txt')],
      ['create', 'inner/link/escaped.txt'],
      ['get', `../${outside.split('/').pop()}/secret.txt`],
      ['get', join(outside, 'secret.txt')],
      ['get', 'inner/link/secret.txt'],
      ['delete', join(outside, 'secret.txt')],
      ['list', '..'],
    ];
    for (const [operation, fileName] of attempts) {
      const r = await invokeBinding(sidecar, 'files', { operation, data: 'pwned', metadata: { fileName } });
      expect(r.status, `${operation} ${fileName}`).toBe(500);
      expect((r.json() as { errorCode: string }).errorCode).toBe('ERR_INVOKE_OUTPUT_BINDING');
      expect(r.text).not.toContain('secret"');
    }
    expect(existsSync(join(outside, 'escaped.txt'))).toBe(false);
    expect(existsSync(join(root, '..', 'escaped.txt'))).toBe(false);
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('secret');
  });

  it('answers Dapr error codes: unknown binding, unsupported operation, malformed bodies', async () => {
    const unknown = await invokeBinding(sidecar, 'nope', { operation: 'create' });
    expect(unknown.status).toBe(500);
    expect(unknown.json()).toEqual({ errorCode: 'ERR_INVOKE_OUTPUT_BINDING', message: "error invoking output binding nope: couldn't find output binding nope" });
    const inputOnly = await invokeBinding(sidecar, 'tick', { operation: 'delete' });
    expect(inputOnly.json()).toEqual({ errorCode: 'ERR_INVOKE_OUTPUT_BINDING', message: "error invoking output binding tick: couldn't find output binding tick" });
    const op = await invokeBinding(sidecar, 'files', { operation: 'explode' });
    expect(op.status).toBe(500);
    expect((op.json() as { message: string }).message).toBe('error invoking output binding files: binding files does not support operation explode. supported operations:create get delete list');
    const garbled = await invokeBinding(sidecar, 'files', '{"operation":');
    expect(garbled.status).toBe(400);
    expect((garbled.json() as { errorCode: string }).errorCode).toBe('ERR_MALFORMED_REQUEST');
    const badMeta = await invokeBinding(sidecar, 'files', { operation: 'get', metadata: { fileName: 5 } });
    expect(badMeta.status).toBe(400);
    expect((badMeta.json() as { errorCode: string }).errorCode).toBe('ERR_MALFORMED_REQUEST');
    const badBaggage = await invokeBinding(sidecar, 'files', { operation: 'list' }, { headers: { baggage: '=novalue' } });
    expect(badBaggage.status).toBe(400);
  });

  it('works through the official SDK HTTP binding client', async () => {
    const client = new DaprClient({ daprHost: '127.0.0.1', daprPort: String(sidecar.httpPort), communicationProtocol: CommunicationProtocolEnum.HTTP });
    await client.binding.send('files', 'create', 'from the sdk', { fileName: 'sdk.txt' });
    expect(readFileSync(join(root, 'sdk.txt'), 'utf8')).toBe('from the sdk');
    const got = await client.binding.send('files', 'get', undefined, { fileName: 'sdk.txt' });
    expect(got).toBe('from the sdk');
    seen.length = 0;
    await client.binding.send('web', 'post', { sdk: true }, { path: 'sdk' });
    expect(seen[0]!.body).toBe('{"sdk":true}');
    await client.stop();
  });

  it('stops firing input bindings when the sidecar shuts down', async () => {
    await eventually(async () => (await app.received('/tick')).length >= 1, 20_000, 100);
    const res = await fetch(`${sidecar.url}/v1.0/shutdown`, { method: 'POST' });
    expect(res.status).toBe(204);
    await sidecar.exited;
    const count = (await app.received('/tick')).length + (await app.received('/custom')).length;
    await sleep(3000);
    expect((await app.received('/tick')).length + (await app.received('/custom')).length).toBe(count);
  });
});

describe('input bindings under the component inbound resiliency policy', () => {
  it('retries a failed delivery of one event as the Resiliency resource says', async () => {
    const app = await startRecordingApp(['/beat'], { '/beat': { failTimes: 2 } });
    const sidecar = await startSidecar({
      appId: 'bindings-resiliency',
      args: ['--app-port', String(app.port)],
      resources: {
        'beat.yaml': componentYaml('beat', 'bindings.cron', { schedule: '@every 5s' }),
        'resiliency.yaml': `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: inbound
spec:
  policies:
    retries:
      three: { policy: constant, duration: 20ms, maxRetries: 3 }
  targets:
    components:
      beat:
        inbound: { retry: three }
`,
      },
    });
    const attempts = await eventually(async () => {
      const list = await app.received('/beat');
      return list.length >= 3 ? list.slice(0, 3) : undefined;
    }, 20_000, 50);
    expect(attempts.map((a) => a.status)).toEqual([500, 500, 200]);
    // One event, delivered three times: the same tick time each time.
    expect(new Set(attempts.map((a) => a.headers.readtimeutc)).size).toBe(1);
    await fetch(`${sidecar.url}/v1.0/shutdown`, { method: 'POST' });
  });
});

describe('cron schedules Dapr rejects', () => {
  it('stops the sidecar at start-up with an error naming the schedule field', async () => {
    for (const schedule of ['* * * *', '@sometimes', '61 * * * * *']) {
      const dir = writeFolder({ 'c.yaml': componentYaml('bad', 'bindings.cron', { schedule }) });
      const p = startProcess(process.execPath, [CLI, 'sidecar', '--app-id', 'bad-cron', '--dapr-http-port', '0', '--metrics-port', '0', '--resources-path', dir], { env: { BULWARK_HOME: tempDir() } });
      expect((await p.exited).code).toBe(1);
      // stderr may still be draining when the exit event arrives.
      await eventually(() => /metadata "schedule": invalid schedule format '/.test(p.output()), 5000, 20).catch(() => undefined);
      expect(p.output()).toMatch(/metadata "schedule": invalid schedule format '/);
    }
  });
});

describe('bindings.http with mutual TLS', () => {
  it('presents the client certificate and trusts MTLSRootCA (PEM text or file path)', async () => {
    const forge = (await import('node-forge')).default;
    const makeCert = (cn: string, issuer?: { cert: import('node-forge').pki.Certificate; key: import('node-forge').pki.rsa.PrivateKey }) => {
      const keys = forge.pki.rsa.generateKeyPair(2048);
      const cert = forge.pki.createCertificate();
      cert.publicKey = keys.publicKey;
      cert.serialNumber = `0${Math.floor(Math.random() * 1e9).toString(16)}`;
      cert.validity.notBefore = new Date(Date.now() - 60_000);
      cert.validity.notAfter = new Date(Date.now() + 3_600_000);
      cert.setSubject([{ name: 'commonName', value: cn }]);
      cert.setIssuer(issuer ? issuer.cert.subject.attributes : [{ name: 'commonName', value: cn }]);
      cert.setExtensions(issuer ? [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }] : [{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, digitalSignature: true }]);
      cert.sign(issuer ? issuer.key : keys.privateKey, forge.md.sha256.create());
      return { cert, key: keys.privateKey, certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
    };
    const ca = makeCert('test-ca');
    const server = makeCert('server', ca);
    const client = makeCert('bulwark-client', ca);
    const { createServer: createHttpsServer } = await import('node:https');
    const https = createHttpsServer({ key: server.keyPem, cert: server.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
      res.end(`hello ${peer.subject?.CN}`);
    });
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
    const dir = writeFolder({ 'client.crt': client.certPem, 'client.key': client.keyPem });
    try {
      const sidecar = await startSidecar({
        appId: 'bindings-mtls',
        resources: {
          'tls.yaml': componentYaml('secure', 'bindings.http', { url, MTLSRootCA: ca.certPem, MTLSClientCert: join(dir, 'client.crt'), MTLSClientKey: join(dir, 'client.key') }),
          'nocert.yaml': componentYaml('nocert', 'bindings.http', { url, MTLSRootCA: ca.certPem }),
        },
      });
      const ok = await invokeBinding(sidecar, 'secure', { operation: 'get' });
      expect(ok.status).toBe(200);
      expect(ok.text).toBe('hello bulwark-client');
      const refused = await invokeBinding(sidecar, 'nocert', { operation: 'get' });
      expect(refused.status).toBe(500);
      expect((refused.json() as { errorCode: string }).errorCode).toBe('ERR_INVOKE_OUTPUT_BINDING');
      await fetch(`${sidecar.url}/v1.0/shutdown`, { method: 'POST' });
    } finally {
      await new Promise<void>((r) => https.close(() => r()));
    }
  }, 60_000);
});

describe('output bindings under the component outbound resiliency policy', () => {
  it('cuts a slow call at the policy timeout and retries it, answering Dapr error after the last attempt', async () => {
    let calls = 0;
    const slow = createServer((req, res) => {
      calls++;
      req.resume();
      const t = setTimeout(() => res.end('late'), 3000);
      res.on('close', () => clearTimeout(t));
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    try {
      const sidecar = await startSidecar({
        appId: 'bindings-outbound',
        resources: {
          'web.yaml': componentYaml('slowweb', 'bindings.http', { url: `http://127.0.0.1:${(slow.address() as AddressInfo).port}` }),
          'resiliency.yaml': `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: outbound
spec:
  policies:
    timeouts:
      quick: 200ms
    retries:
      twice: { policy: constant, duration: 10ms, maxRetries: 2 }
  targets:
    components:
      slowweb:
        outbound: { timeout: quick, retry: twice }
`,
        },
      });
      const r = await invokeBinding(sidecar, 'slowweb', { operation: 'get' });
      expect(r.status).toBe(500);
      expect(r.json()).toMatchObject({ errorCode: 'ERR_INVOKE_OUTPUT_BINDING' });
      expect((r.json() as { message: string }).message).toMatch(/^error invoking output binding slowweb: .*context deadline exceeded/);
      expect(calls).toBe(3);
      await fetch(`${sidecar.url}/v1.0/shutdown`, { method: 'POST' });
    } finally {
      slow.closeAllConnections();
      await new Promise<void>((r) => slow.close(() => r()));
    }
  });
});
