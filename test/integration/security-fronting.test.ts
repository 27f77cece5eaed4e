// HTTPS on the public fronting listener with certificates from `bulwark cert issue`, checked
// with curl: with a client certificate required, and without. Also the hardening every
// listener shares: too many header fields or too large a head is refused with 431, and the
// public port never reaches the sidecar API.
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { startMember, type Member } from '../helpers/mesh.js';
import { CLI, eventually, startProcess, tempDir } from '../helpers/processes.js';
import { certInit, foreignCa, svid } from '../helpers/security.js';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { connect as tlsConnect } from 'node:tls';

// The gRPC API listens on 50001 by default: every sidecar here takes a free port instead.
const GRPC = ['--dapr-grpc-port', '0'];

let home: string;
let strict: Member;
let strictPort: number;
let open: Member;
let openPort: number;
const file = (name: string): string => join(home, name);

async function cli(...args: string[]): Promise<void> {
  const p = startProcess(process.execPath, [CLI, ...args], { env: { BULWARK_HOME: home } });
  const { code } = await p.exited;
  if (code !== 0) throw new Error(`bulwark ${args.join(' ')} failed: ${p.output()}`);
}

function curl(port: number, path: string, extra: string[]): { code: number; out: string; err: string } {
  const r = spawnSync('curl', ['-sS', '--max-time', '10', '--cacert', file('certs/ca.crt'), ...extra, `https://localhost:${port}${path}`], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  home = tempDir('bulwark-fronting-');
  await certInit(home);
  await cli('cert', 'issue', '--out', file('front'), '--dns', 'localhost', '--ip', '127.0.0.1');
  await cli('cert', 'issue', '--out', file('client'), '--uri', 'spiffe://public/ns/default/curl');
  const tls = ['--public-tls-cert-file', file('front.crt'), '--public-tls-key-file', file('front.key')];
  // Port 0 and the bound port read back: a port picked free beforehand can be taken by a
  // parallel test before the sidecar binds it.
  strict = await startMember('web', home, { args: ['--public-port', '0', ...tls, '--public-tls-client-ca-file', file('certs/ca.crt'), ...GRPC] });
  strictPort = Number((await strict.sidecar.waitFor(/public fronting on [^:\s]+:(\d+)/))[1]);
  open = await startMember('site', home, { args: ['--public-port', '0', ...tls, ...GRPC] });
  openPort = Number((await open.sidecar.waitFor(/public fronting on [^:\s]+:(\d+)/))[1]);
}, 60_000);

describe('HTTPS fronting', () => {
  it('serves the app over HTTPS to curl with a client certificate', () => {
    const r = curl(strictPort, '/hello?x=1', ['--cert', file('client.crt'), '--key', file('client.key')]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ name: 'web', method: 'GET', url: '/hello?x=1' });
  });

  it('refuses curl without a client certificate when one is required', () => {
    const r = curl(strictPort, '/hello', []);
    expect(r.code).not.toBe(0);
    expect(r.out).toBe('');
  });

  it('refuses a client certificate from another CA', () => {
    const other = svid(foreignCa(), 'spiffe://public/ns/default/curl');
    writeFileSync(file('other.crt'), other.cert);
    writeFileSync(file('other.key'), other.key);
    const r = curl(strictPort, '/hello', ['--cert', file('other.crt'), '--key', file('other.key')]);
    expect(r.code).not.toBe(0);
    expect(r.out).toBe('');
  });

  it('serves curl without a client certificate when none is required', () => {
    const r = curl(openPort, '/page', []);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ name: 'site', url: '/page' });
  });

  it('the public port never reaches the sidecar API: /v1.0/* goes to the app', () => {
    const r = curl(openPort, '/v1.0/metadata', []);
    expect(JSON.parse(r.out)).toMatchObject({ name: 'site', url: '/v1.0/metadata' });
    const s = curl(openPort, '/v1.0/invoke/web/method/hello', []);
    expect(JSON.parse(s.out)).toMatchObject({ name: 'site', url: '/v1.0/invoke/web/method/hello' });
  });
});

describe('reloading a replaced fronting certificate', () => {
  /** The serial of the certificate a new TLS connection to `port` is shown. */
  function servedSerial(port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const sock = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(file('certs/ca.crt')), servername: 'localhost' }, () => {
        const serial = sock.getPeerCertificate().serialNumber;
        sock.end();
        resolve(serial);
      });
      sock.once('error', reject);
    });
  }

  /** GET over a keep-alive agent; says whether the request went over an already open connection. */
  function get(agent: HttpsAgent, port: number, path: string): Promise<{ status: number; reused: boolean }> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path, agent, ca: readFileSync(file('certs/ca.crt')), servername: 'localhost' }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
      });
      req.once('error', reject);
      req.end();
    });
  }

  it('serves the new certificate to new connections, keeps open ones, and keeps the old one when the new set is broken', async () => {
    await cli('cert', 'issue', '--out', file('second'), '--dns', 'localhost', '--ip', '127.0.0.1');
    copyFileSync(file('front.crt'), file('live.crt'));
    copyFileSync(file('front.key'), file('live.key'));
    const m = await startMember('renewing', home, { args: ['--public-port', '0', '--public-tls-cert-file', file('live.crt'), '--public-tls-key-file', file('live.key'), ...GRPC] });
    const port = Number((await m.sidecar.waitFor(/public fronting on [^:\s]+:(\d+)/))[1]);
    const first = await servedSerial(port);
    const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
    expect(await get(agent, port, '/before')).toEqual({ status: 200, reused: false });

    // Replace the pair (key first, then certificate, as a renewal tool might).
    copyFileSync(file('second.key'), file('live.key'));
    copyFileSync(file('second.crt'), file('live.crt'));
    await m.sidecar.waitFor(/certificate reloaded/, 20_000);
    const second = await servedSerial(port);
    expect(second).not.toBe(first);
    expect(second).toBe(new X509Certificate(readFileSync(file('second.crt'))).serialNumber);
    // The connection opened before the swap still carries requests; curl on a new one verifies the new certificate.
    expect(await get(agent, port, '/after')).toEqual({ status: 200, reused: true });
    const c = curl(port, '/curl', []);
    expect(c.code).toBe(0);
    expect(JSON.parse(c.out)).toMatchObject({ name: 'renewing', url: '/curl' });

    // A certificate that does not match the key on disk is refused with a reason; the last good one keeps serving.
    const seen = m.sidecar.output().length;
    copyFileSync(file('front.crt'), file('live.crt'));
    const warned = await eventually(() => /were not loaded, the previous certificate keeps serving: .*live\.crt.*/.exec(m.sidecar.output().slice(seen)), 20_000, 100);
    expect(warned[0]).toMatch(/key values mismatch/);
    expect(await servedSerial(port)).toBe(second);
    expect(curl(port, '/still', []).code).toBe(0);
    agent.destroy();
  });
});

describe('listener hardening', () => {
  const client = (): Agent => new Agent({ connect: { ca: undefined, rejectUnauthorized: false } });
  const manyHeaders = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h${i}`, 'v']));

  it('refuses more than 100 header fields with 431 (public HTTPS and API ports)', async () => {
    const dispatcher = client();
    const pub = await request(`https://127.0.0.1:${openPort}/hello`, { headers: manyHeaders(120), dispatcher });
    expect(pub.statusCode).toBe(431);
    await pub.body.dump();
    const api = await request(`${open.sidecar.url}/v1.0/healthz`, { headers: manyHeaders(120) });
    expect(api.statusCode).toBe(431);
    await api.body.dump();
    const fine = await request(`https://127.0.0.1:${openPort}/hello`, { headers: manyHeaders(60), dispatcher });
    expect(fine.statusCode).toBe(200);
    await fine.body.dump();
    await dispatcher.close();
  });

  it('refuses a request head over 16 KiB with 431', async () => {
    const res = await request(`${open.sidecar.url}/v1.0/healthz`, { headers: { 'x-big': 'a'.repeat(20_000) } });
    expect(res.statusCode).toBe(431);
    await res.body.dump();
  });
});
