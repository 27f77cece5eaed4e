// Service invocation through real sidecars: app a -> sidecar A -> sidecar B (internal port) ->
// app b and back, for every verb, with headers, query and status intact; the header, Basic
// auth and namespace forms; hop-by-hop stripping; what each failure answers.
import { beforeAll, describe, expect, it } from 'vitest';
import { request as httpRequest } from 'node:http';
import { request } from 'undici';
import { startMember, type Member } from '../helpers/mesh.js';
import { CLI, startProcess, startSidecar, tempDir } from '../helpers/processes.js';

const home = tempDir('bulwark-home-');
let a: Member;
let b: Member;

beforeAll(async () => {
  [a, b] = await Promise.all([startMember('alpha', home), startMember('beta', home)]);
});

interface Echo {
  name: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

async function call(base: string, method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}) {
  const res = await request(base + path, { method: method as 'GET', headers: init.headers ?? {}, body: init.body ?? null });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as Echo & { errorCode: string; message: string } };
}

/** node:http, which sends the path and headers exactly as given (undici and fetch normalise). */
function rawCall(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; json: () => Echo & { errorCode: string; message: string } }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, json: () => JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('invocation between two apps through two sidecars', () => {
  const VERBS_WITH_BODY = ['POST', 'PUT', 'PATCH', 'DELETE'];
  const VERBS_WITHOUT = ['GET', 'OPTIONS', 'TRACE'];

  for (const [from, to] of [['alpha', 'beta'], ['beta', 'alpha']] as const) {
    for (const verb of [...VERBS_WITH_BODY, ...VERBS_WITHOUT]) {
      it(`${from} -> ${to}: ${verb} keeps method, path, query, headers and body`, async () => {
        const caller = from === 'alpha' ? a : b;
        const hasBody = VERBS_WITH_BODY.includes(verb);
        const r = await call(caller.sidecar.url, verb, `/v1.0/invoke/${to}/method/orders/7?x=1&y=a%20b&y=2`, {
          headers: { 'x-custom': 'v1', 'content-type': 'text/plain', 'dapr-caller-app-id': 'forged' },
          ...(hasBody ? { body: `body for ${verb}` } : {}),
        });
        expect(r.status).toBe(200);
        expect(r.headers['x-app-name']).toBe(to);
        const e = r.json();
        expect(e.name).toBe(to);
        expect(e.method).toBe(verb);
        expect(e.url).toBe('/orders/7?x=1&y=a%20b&y=2');
        expect(e.headers['x-custom']).toBe('v1');
        expect(e.headers['content-type']).toBe('text/plain');
        expect(e.headers['dapr-caller-app-id']).toBe(from);
        expect(e.headers['dapr-callee-app-id']).toBe(to);
        expect(e.headers['x-forwarded-for']).toBe('127.0.0.1');
        expect(e.headers.forwarded).toBe('for=127.0.0.1;by=127.0.0.1;host=127.0.0.1');
        expect(e.body).toBe(hasBody ? `body for ${verb}` : '');
      });
    }
  }

  it('HEAD returns the status and headers with no body', async () => {
    const r = await call(a.sidecar.url, 'HEAD', '/v1.0/invoke/beta/method/thing?status=202');
    expect(r.status).toBe(202);
    expect(r.headers['x-app-name']).toBe('beta');
    expect(r.text).toBe('');
  });

  it("passes the callee app's own 4xx and 5xx through untouched", async () => {
    for (const status of [404, 418, 500, 503]) {
      const r = await call(a.sidecar.url, 'POST', `/v1.0/invoke/beta/method/fail?status=${status}`, { body: 'x' });
      expect(r.status).toBe(status);
      expect(r.headers['x-reply']).toBe('yes');
      expect(r.json().name).toBe('beta');
    }
  });

  it('routes any path with a dapr-app-id header, and Basic auth dapr-app-id:<id>', async () => {
    const r = await call(a.sidecar.url, 'PUT', '/shop/cart/3?z=9', { headers: { 'dapr-app-id': 'beta' }, body: 'h' });
    expect(r.status).toBe(200);
    const e = r.json();
    expect([e.name, e.method, e.url, e.body]).toEqual(['beta', 'PUT', '/shop/cart/3?z=9', 'h']);
    expect(e.headers['dapr-app-id']).toBeUndefined();
    const basic = 'Basic ' + Buffer.from('dapr-app-id:beta').toString('base64');
    const r2 = await call(a.sidecar.url, 'GET', '/via-basic', { headers: { authorization: basic } });
    expect(r2.json().name).toBe('beta');
    expect(r2.json().url).toBe('/via-basic');
  });

  it('takes appId.namespace and invokes itself straight through its own app channel', async () => {
    expect((await call(a.sidecar.url, 'GET', '/v1.0/invoke/beta.default/method/ns')).json().name).toBe('beta');
    const self = (await call(a.sidecar.url, 'GET', '/v1.0/invoke/alpha/method/self')).json();
    expect(self.name).toBe('alpha');
    expect(self.headers['dapr-caller-app-id']).toBe('alpha');
    expect(self.headers['dapr-callee-app-id']).toBe('alpha');
  });

  it('strips hop-by-hop headers (also those named in Connection) and the sidecar-only ones', async () => {
    const r = await rawCall(a.sidecar.httpPort, '/v1.0/invoke/beta/method/hop', {
      connection: 'x-drop-me', 'x-drop-me': '1', 'keep-alive': 'timeout=5', 'proxy-authorization': 'Basic eA==', te: 'trailers', 'x-keep': 'k', 'grpc-trace-bin': 'AAA=',
    });
    const h = r.json().headers;
    for (const gone of ['x-drop-me', 'keep-alive', 'proxy-authorization', 'te', 'grpc-trace-bin', 'dapr-app-id']) expect(h[gone]).toBeUndefined();
    expect(h['x-keep']).toBe('k');
  });

  it('shows the internal port in the local registry and `bulwark list`', async () => {
    const p = startProcess(process.execPath, [CLI, 'list', '-o', 'json'], { env: { BULWARK_HOME: home } });
    await p.exited;
    const rows = JSON.parse(p.output()) as Array<{ appId: string; internalPort: number }>;
    expect(rows.find((r) => r.appId === 'beta')?.internalPort).toBe(b.internalPort);
    expect(rows.find((r) => r.appId === 'alpha')?.internalPort).toBe(a.internalPort);
    // The internal port itself serves the app (what a peer sidecar calls).
    const direct = await call(`http://127.0.0.1:${b.internalPort}`, 'GET', '/from-peer');
    expect(direct.json().name).toBe('beta');
  });
});

describe('method paths are normalised safely', () => {
  it('resolves .. and encoded slashes inside the target app, never above it', async () => {
    for (const path of ['/v1.0/invoke/beta/method/a/%2E%2E/%2E%2E/%2E%2E/v1.0/metadata', '/v1.0/invoke/beta/method/..%2F..%2F..%2Fv1.0%2Fmetadata']) {
      const r = await rawCall(a.sidecar.httpPort, path);
      expect(r.status).toBe(200);
      expect(r.json().name).toBe('beta'); // the app answered, not a sidecar API
      expect(r.json().url).toBe('/v1.0/metadata');
    }
  });

  it('keeps an absolute URL in the method a path on the same app', async () => {
    const r = await call(a.sidecar.url, 'GET', '/v1.0/invoke/beta/method/http%3A%2F%2Fevil.example%2Fx');
    expect(r.json().name).toBe('beta');
    expect(r.json().url).toBe('/http:/evil.example/x');
  });

  it('refuses control characters in the method with ERR_DIRECT_INVOKE', async () => {
    const r = await call(a.sidecar.url, 'GET', '/v1.0/invoke/beta/method/bad%00name');
    expect(r.status).toBe(500);
    expect(r.json().errorCode).toBe('ERR_DIRECT_INVOKE');
    expect(r.json().message).toContain('invalid method');
  });
});

describe('errors as Dapr gives them', () => {
  it('no app id: 404 ERR_DIRECT_INVOKE', async () => {
    const r = await call(a.sidecar.url, 'GET', '/not/an/api');
    expect(r.status).toBe(404);
    expect(r.json()).toEqual({ errorCode: 'ERR_DIRECT_INVOKE', message: 'failed getting app id either from the URL path or the header dapr-app-id' });
  });

  it('unknown app id: 500 ERR_DIRECT_INVOKE naming the app id and the cause', async () => {
    const r = await call(a.sidecar.url, 'POST', '/v1.0/invoke/nobody/method/x', { body: 'x' });
    expect(r.status).toBe(500);
    expect(r.json()).toEqual({ errorCode: 'ERR_DIRECT_INVOKE', message: "failed to invoke, id: nobody, err: couldn't find service: nobody" });
  });

  it('callee app down or unhealthy: 500 ERR_DIRECT_INVOKE from the callee sidecar', async () => {
    // A sidecar whose app never comes up: its app channel is not ready.
    const down = await startSidecar({ appId: 'gamma', home, resources: {}, args: ['--app-port', '1'] });
    await down.waitFor(/internal \(sidecar-to-sidecar\) listening/);
    const r = await call(a.sidecar.url, 'GET', '/v1.0/invoke/gamma/method/x');
    expect(r.status).toBe(500);
    expect(r.json().errorCode).toBe('ERR_DIRECT_INVOKE');
    expect(r.json().message).toBe('failed to invoke, id: gamma, err: app is not in a healthy state');
  });

  it('a sidecar without an app channel: 500 ERR_DIRECT_INVOKE', async () => {
    const lone = await startSidecar({ appId: 'delta', home, resources: {} });
    await lone.waitFor(/internal \(sidecar-to-sidecar\) listening/);
    const r = await call(a.sidecar.url, 'GET', '/v1.0/invoke/delta/method/x');
    expect(r.status).toBe(500);
    expect(r.json().message).toBe('failed to invoke, id: delta, err: app channel is not initialized');
  });

  it('an app id with more than one dot: 500 ERR_DIRECT_INVOKE', async () => {
    const r = await call(a.sidecar.url, 'GET', '/v1.0/invoke/a.b.c/method/x');
    expect(r.status).toBe(500);
    expect(r.json().message).toContain('invalid app id');
  });
});
