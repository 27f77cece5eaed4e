// Mutual TLS between real sidecars: certificates from a real `bulwark sentry`, the callee's
// app sees the caller's verified SPIFFE ID, and every kind of bad peer is refused: plaintext,
// another CA, an expired certificate, no certificate, a server with another app's identity,
// a wrong trust domain (refused by the access control list, as in Dapr: the TLS layer accepts
// any SVID of the trust anchors and leaves authorisation to the ACL).
import { createPublicKey } from 'node:crypto';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { CertificateAuthority } from '../../security/ca.js';
import { writeEntry } from '../../proxy/naming/local-registry.js';
import { generateKey, keyPem } from '../../security/x509.js';
import { freePort } from '../../cli/free-port.js';
import { startMember, type Member } from '../helpers/mesh.js';
import { CLI, startProcess, tempDir, writeFolder } from '../helpers/processes.js';
import { anchors, certInit, directCall, foreignCa, startSentry, svid, type SentryProc } from '../helpers/security.js';

// The gRPC API listens on 50001 by default: every sidecar here takes a free port instead.
const GRPC = ['--dapr-grpc-port', '0'];

const ACL = `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: bobconfig
spec:
  accessControl:
    defaultAction: deny
    trustDomain: public
    policies:
    - appId: alice
      defaultAction: deny
      trustDomain: public
      namespace: default
      operations:
      - name: /hello
        httpVerb: ['GET']
        action: allow
      - name: /public/**
        httpVerb: ['*']
        action: allow
`;

let home: string;
let ca: CertificateAuthority;
let sentry: SentryProc;
let alice: Member;
let bob: Member;
let trust: string;

beforeAll(async () => {
  home = tempDir('bulwark-mtls-');
  ca = await certInit(home);
  trust = anchors(home);
  sentry = await startSentry(home);
  const cfg = join(writeFolder({ 'bob.yaml': ACL }), 'bob.yaml');
  const mtls = ['--enable-mtls', '--sentry-address', sentry.address];
  // alice is given the anchors the way daprd takes them; bob finds them in BULWARK_HOME/certs.
  alice = await startMember('alice', home, { args: [...mtls, ...GRPC], env: { DAPR_TRUST_ANCHORS: trust, APP_API_TOKEN: 'alice-app-token' } });
  bob = await startMember('bob', home, { args: [...mtls, '--config', cfg, ...GRPC], env: { APP_API_TOKEN: 'bob-app-token' } });
}, 60_000);


async function invoke(m: Member, target: string, path: string, method = 'GET'): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(`${m.sidecar.url}/v1.0/invoke/${target}/method${path}`, { method: method as 'GET' });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

describe('mutual TLS between sidecars', () => {
  it('calls from alice to bob succeed and bob sees alice by her verified SPIFFE ID', async () => {
    const r = await invoke(alice, 'bob', '/hello');
    expect(r.status).toBe(200);
    const headers = r.json.headers as Record<string, string>;
    expect(headers['dapr-caller-spiffe-id']).toBe('spiffe://public/ns/default/alice');
    expect(headers['dapr-caller-app-id']).toBe('alice');
    expect(headers['dapr-caller-namespace']).toBe('default');
    // APP_API_TOKEN only on the last hop to the sidecar's own app, never the caller's (CVE-2024-35223).
    expect(headers['dapr-api-token']).toBe('bob-app-token');
    expect(alice.sidecar.output()).toMatch(/workload certificate spiffe:\/\/public\/ns\/default\/alice/);
    expect(sentry.output()).toMatch(/issued spiffe:\/\/public\/ns\/default\/bob/);
  });

  it('an app cannot forge the caller identity headers', async () => {
    const res = await request(`${alice.sidecar.url}/v1.0/invoke/bob/method/hello`, {
      headers: { 'dapr-caller-spiffe-id': 'spiffe://public/ns/default/root', 'dapr-caller-app-id': 'root' },
    });
    const headers = ((await res.body.json()) as { headers: Record<string, string> }).headers;
    expect(headers['dapr-caller-spiffe-id']).toBe('spiffe://public/ns/default/alice');
    expect(headers['dapr-caller-app-id']).toBe('alice');
  });

  it('a valid SVID of the mesh reaches the app directly on the internal port', async () => {
    const r = await directCall(bob.internalPort, '/hello', trust, svid(ca, 'spiffe://public/ns/default/alice'));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).headers['dapr-caller-spiffe-id']).toBe('spiffe://public/ns/default/alice');
  });

  it('the internal port never reaches the sidecar API: /v1.0/* goes to the app', async () => {
    const r = await directCall(alice.internalPort, '/v1.0/metadata', trust, svid(ca, 'spiffe://public/ns/default/bob'));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ name: 'alice', url: '/v1.0/metadata' });
  });

  it('refuses a plaintext peer', async () => {
    await expect(request(`http://127.0.0.1:${bob.internalPort}/hello`)).rejects.toThrow();
  });

  it('refuses a peer without a client certificate', async () => {
    await expect(directCall(bob.internalPort, '/hello', trust, undefined)).rejects.toThrow();
  });

  it('refuses a peer whose certificate another CA signed', async () => {
    const other = foreignCa();
    await expect(directCall(bob.internalPort, '/hello', trust, svid(other, 'spiffe://public/ns/default/alice'))).rejects.toThrow();
  });

  it('refuses a certificate of the right CA that is not a workload SVID', async () => {
    const key = generateKey();
    const plain = ca.signServer(createPublicKey(key), { dns: ['localhost'] });
    await expect(directCall(bob.internalPort, '/public/x', trust, { cert: plain.certChain, key: keyPem(key) })).rejects.toThrow();
  });

  it('refuses an expired certificate', async () => {
    const expired = svid(ca, 'spiffe://public/ns/default/alice', { now: new Date(Date.now() - 3 * 3_600_000), ttlMs: 3_600_000 });
    await expect(directCall(bob.internalPort, '/hello', trust, expired)).rejects.toThrow();
  });

  it('refuses a caller from another trust domain (ACL: no policy matches, global deny)', async () => {
    const r = await directCall(bob.internalPort, '/hello', trust, svid(ca, 'spiffe://evil/ns/default/alice'));
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ errorCode: 'ERR_DIRECT_INVOKE' });
    expect(JSON.parse(r.body).message).toContain('access control policy has denied access to id: spiffe://evil/ns/default/alice');
  });

  it('refuses a server whose certificate names another app id', async () => {
    // "carol" is registered at a server holding a genuine mesh SVID, but for "mallory".
    const mallory = svid(ca, 'spiffe://public/ns/default/mallory');
    let reached = 0;
    const server = createServer({ cert: mallory.cert, key: mallory.key, ca: trust, requestCert: true, rejectUnauthorized: true }, (_req, res) => {
      reached++;
      res.end('{"from":"mallory"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    writeEntry(home, { appId: 'carol', pid: process.pid, host: '127.0.0.1', httpPort: 1, grpcPort: 1, internalPort: port, metricsPort: 0, startedAt: Date.now() });
    try {
      const r = await invoke(alice, 'carol', '/hello');
      expect(r.status).toBe(500);
      expect(r.json.errorCode).toBe('ERR_DIRECT_INVOKE');
      expect(String(r.json.message)).toContain('spiffe://public/ns/default/mallory');
      expect(reached).toBe(0);
    } finally {
      server.close();
    }
  });
});

describe('upgrades over mutual TLS', () => {
  it('a WebSocket from alice to bob travels the mTLS tunnel (bob allows /public/**)', async () => {
    const got = await new Promise<string[]>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${alice.sidecar.httpPort}/v1.0/invoke/bob/method/public/chat`);
      const out: string[] = [];
      ws.on('error', reject);
      ws.on('message', (data) => {
        out.push(data.toString());
        if (out.length === 1) ws.send('ping');
        else ws.close();
      });
      ws.on('close', () => resolve(out));
    });
    expect(got).toEqual(['hello from bob at /public/chat', 'echo: ping']);
  });

  it('a WebSocket to an operation the ACL denies is refused', async () => {
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${alice.sidecar.httpPort}/v1.0/invoke/bob/method/admin`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => resolve(-1));
    });
    expect(status).toBe(403);
  });
});

describe('other ways to turn mTLS on', () => {
  it('waits for a sentry that starts after the sidecar', async () => {
    const port = await freePort();
    const frank = startProcess(process.execPath, [CLI, 'sidecar', '--app-id', 'frank', '--dapr-http-port', '0', '--metrics-port', '0', '--resources-path', writeFolder({}), '--enable-mtls', '--sentry-address', `127.0.0.1:${port}`, ...GRPC], {
      env: { BULWARK_HOME: home },
    });
    await frank.waitFor(/retrying/);
    await startSentry(home, {}, port);
    const m = await frank.waitFor(/HTTP API listening on [^:\s]+:(\d+)/);
    const res = await request(`http://127.0.0.1:${m[1]}/v1.0/invoke/alice/method/x`);
    expect(res.statusCode).toBe(200);
    expect(((await res.body.json()) as { headers: Record<string, string> }).headers['dapr-caller-spiffe-id']).toBe('spiffe://public/ns/default/frank');
  });

  it('Configuration spec.mtls.enabled (with spec.mtls.sentryAddress) without the flag', async () => {
    const cfg = join(
      writeFolder({ 'erin.yaml': `apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: erin\nspec:\n  mtls:\n    enabled: true\n    sentryAddress: ${sentry.address}\n` }),
      'erin.yaml',
    );
    const erin = await startMember('erin', home, { args: ['--config', cfg, ...GRPC] });
    expect(erin.sidecar.output()).toMatch(/workload certificate spiffe:\/\/public\/ns\/default\/erin/);
    const r = await invoke(alice, 'erin', '/who');
    expect(r.status).toBe(200);
    expect((r.json.headers as Record<string, string>)['dapr-caller-spiffe-id']).toBe('spiffe://public/ns/default/alice');
  });


  it('a sidecar given a workload SVID uses it without the sentry', async () => {
    const own = svid(ca, 'spiffe://public/ns/default/dave', { ttlMs: 3_600_000 });
    const dave = await startMember('dave', home, { args: ['--enable-mtls', '--sentry-address', '127.0.0.1:1', ...GRPC], env: { DAPR_CERT_CHAIN: own.cert, DAPR_CERT_KEY: own.key } });
    const r = await invoke(alice, 'dave', '/who');
    expect(r.status).toBe(200);
    expect((r.json.headers as Record<string, string>)['dapr-caller-spiffe-id']).toBe('spiffe://public/ns/default/alice');
    // dave has no policy on bob: the global default denies.
    expect((await invoke(dave, 'bob', '/hello')).status).toBe(403);
  });
});

describe('access control through two mTLS sidecars', () => {
  it('allows GET /hello for alice', async () => {
    expect((await invoke(alice, 'bob', '/hello')).status).toBe(200);
  });

  it('denies POST /hello (verb not listed, policy default deny) with 403 ERR_DIRECT_INVOKE', async () => {
    const r = await invoke(alice, 'bob', '/hello', 'POST');
    expect(r.status).toBe(403);
    expect(r.json.errorCode).toBe('ERR_DIRECT_INVOKE');
    expect(String(r.json.message)).toContain('operation: hello verb: POST');
  });

  it('allows any verb under /public/** at any depth', async () => {
    expect((await invoke(alice, 'bob', '/public/a/b/c', 'DELETE')).status).toBe(200);
  });

  it('denies an operation no rule names', async () => {
    expect((await invoke(alice, 'bob', '/admin')).status).toBe(403);
  });

  it('authorises the normalised method, and that is what the app receives', async () => {
    const r = await invoke(alice, 'bob', '/admin%2F..%2Fpublic/x');
    expect(r.status).toBe(200);
    expect(r.json.url).toBe('/public/x');
  });

  it('denies a valid SVID of an app without a policy (global default deny)', async () => {
    const r = await directCall(bob.internalPort, '/hello', trust, svid(ca, 'spiffe://public/ns/default/mallory'));
    expect(r.status).toBe(403);
  });

  it('bob calling alice (no ACL there) is allowed', async () => {
    expect((await invoke(bob, 'alice', '/anything', 'PUT')).status).toBe(200);
  });
});
