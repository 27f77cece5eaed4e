// Non-Dapr services reached straight from the calling sidecar: HTTPEndpoint resources (base
// path, headers from values, env and secrets, client TLS with a client certificate) and URL
// targets, raw and escaped.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, tempDir, type SidecarProc } from '../helpers/processes.js';

const certs = tempDir('bulwark-certs-');
const pem = (name: string): string => readFileSync(join(certs, name), 'utf8');

/** A CA, a server certificate for 127.0.0.1 and a client certificate, with the openssl CLI. */
function makeCertificates(): void {
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: certs, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=test-ca', '-days', '2');
  writeFileSync(join(certs, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const who of ['server', 'client']) {
    ssl('req', ...ec, '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who}`);
    ssl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.crt`, '-days', '2', ...(who === 'server' ? ['-extfile', 'server.ext'] : []));
  }
}

let plain: Server;
let secure: Server;
let sidecar: SidecarProc;

const echo = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void => {
  const peer = (req.socket as TLSSocket).getPeerCertificate?.();
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ url: req.url, method: req.method, headers: req.headers, clientCN: peer?.subject?.CN ?? null }));
};

const indent = (text: string): string => text.trim().split('\n').map((l) => '        ' + l).join('\n');

beforeAll(async () => {
  makeCertificates();
  plain = createHttpServer(echo);
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  secure = createHttpsServer({ key: pem('server.key'), cert: pem('server.crt'), ca: pem('ca.crt'), requestCert: true, rejectUnauthorized: true }, echo);
  await new Promise<void>((r) => secure.listen(0, '127.0.0.1', r));
  const plainPort = (plain.address() as AddressInfo).port;
  const securePort = (secure.address() as AddressInfo).port;
  sidecar = await startSidecar({
    appId: 'caller',
    env: { PARTNER_KEY: 'from-env', PARTNER_TOKEN: 'from-secret' },
    resources: {
      'secrets.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: envsecrets
spec:
  type: secretstores.local.env
  version: v1
`,
      'partner.yaml': `apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: partner
spec:
  baseUrl: http://127.0.0.1:${plainPort}/api/v2/
  headers:
  - name: X-Static
    value: fixed
  - name: X-Key
    envRef: PARTNER_KEY
  - name: Authorization
    secretKeyRef:
      name: PARTNER_TOKEN
      key: PARTNER_TOKEN
auth:
  secretStore: envsecrets
`,
      'bank.yaml': `apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: bank
spec:
  baseUrl: https://127.0.0.1:${securePort}
  clientTLS:
    rootCA:
      value: |
${indent(pem('ca.crt'))}
    certificate:
      value: |
${indent(pem('client.crt'))}
    privateKey:
      value: |
${indent(pem('client.key'))}
`,
    },
  });
});

afterAll(() => {
  plain.close();
  secure.close();
});

interface Seen {
  url: string;
  method: string;
  headers: Record<string, string>;
  clientCN: string | null;
}

async function call(path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const res = await request(sidecar.url + path, { method: (init.method ?? 'GET') as 'GET', headers: init.headers ?? {}, body: init.body ?? null });
  const text = await res.body.text();
  return { status: res.statusCode, json: () => JSON.parse(text) as Seen & { errorCode: string; message: string } };
}

describe('HTTPEndpoint resources', () => {
  it("send to the endpoint's base path with its headers (value, envRef, secretKeyRef) over the caller's", async () => {
    const r = await call('/v1.0/invoke/partner/method/orders/5?expand=1', { method: 'POST', headers: { 'x-static': 'caller-value', 'x-mine': 'kept' }, body: '{}' });
    expect(r.status).toBe(200);
    const seen = r.json();
    expect(seen.url).toBe('/api/v2/orders/5?expand=1');
    expect(seen.method).toBe('POST');
    expect(seen.headers['x-static']).toBe('fixed');
    expect(seen.headers['x-key']).toBe('from-env');
    expect(seen.headers.authorization).toBe('from-secret');
    expect(seen.headers['x-mine']).toBe('kept');
  });

  it('connect with client TLS: the root CA verifies the server and the client certificate is presented', async () => {
    const r = await call('/v1.0/invoke/bank/method/balance');
    expect(r.status).toBe(200);
    expect(r.json().url).toBe('/balance');
    expect(r.json().clientCN).toBe('client');
  });

  it('the dapr-app-id header form reaches an endpoint too', async () => {
    const r = await call('/accounts', { headers: { 'dapr-app-id': 'partner' } });
    expect(r.json().url).toBe('/api/v2/accounts');
  });
});

describe('URL targets', () => {
  it('reach a service by raw or escaped URL', async () => {
    const port = (plain.address() as AddressInfo).port;
    const raw = await call(`/v1.0/invoke/http://127.0.0.1:${port}/method/direct?a=1`);
    expect(raw.status).toBe(200);
    expect(raw.json().url).toBe('/direct?a=1');
    const escaped = await call(`/v1.0/invoke/${encodeURIComponent(`http://127.0.0.1:${port}`)}/method/escaped`);
    expect(escaped.json().url).toBe('/escaped');
  });

  it('an unreachable URL is 500 ERR_DIRECT_INVOKE naming the target and cause', async () => {
    const r = await call('/v1.0/invoke/http://127.0.0.1:1/method/x');
    expect(r.status).toBe(500);
    expect(r.json().errorCode).toBe('ERR_DIRECT_INVOKE');
    expect(r.json().message).toMatch(/^failed to invoke, id: http:\/\/127\.0\.0\.1:1, err: .*ECONNREFUSED/);
  });

  it('an https URL without a trusted certificate fails the call instead of skipping verification', async () => {
    const port = (secure.address() as AddressInfo).port;
    const r = await call(`/v1.0/invoke/https://127.0.0.1:${port}/method/x`);
    expect(r.status).toBe(500);
    expect(r.json().errorCode).toBe('ERR_DIRECT_INVOKE');
  });
});
