// mTLS benchmark (not a test): (1) full TLS handshake cost with mutual authentication for
// ECDSA P-256 and RSA 2048 certificates; (2) two-hop invocation (client -> sidecar A -> sidecar
// B -> app) with mTLS against plaintext, same run, same machine, pooled keep-alive connections.
//
//   npm run build && node dist/loadtest/mtls.js [--seconds 4] [--rounds 4] [--concurrency 32] [--handshakes 300] [--handshakes-only]
//                                        [--profile DIR] [--floor]
//
// --floor measures the same comparison on two bare Node hops (loadtest/mtls-floor.ts: an HTTP
// server forwarding over an undici pool, TLS with client certificates between the hops or not):
// what TLS costs any Node proxy chain, the floor under the sidecars' figure.
//
// Sidecars started first measured faster on this machine whatever they run (up to ~30 %), so
// each round starts a fresh plaintext pair and a fresh mTLS pair, in alternating order, drives
// them in alternating order, and stops them; the cost is reported per round and over all rounds.
import { spawn } from 'node:child_process';
import { createPublicKey, sign, verify } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createSecureContext, createServer as createTlsServer, connect } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { CertificateAuthority, generateCa } from '../security/ca.js';
import { generateKey, keyPem, type KeyType } from '../security/x509.js';
import { CLI, ROOT, cpuSeconds, start, stop, stopAll, waitFor, type Running } from './procs.js';

const FLOOR = join(ROOT, 'dist/loadtest/mtls-floor.js');
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};

async function handshakes(type: KeyType, n: number): Promise<{ meanMs: number; p50: number; p99: number; cpuMs: number }> {
  const ca = new CertificateAuthority(generateCa({ trustDomain: 'bench', keyType: type }));
  const mk = (app: string): { cert: string; key: string } => svid(ca, type, app);
  const s = mk('server');
  const c = mk('client');
  const server = createTlsServer({ ...s, ca: ca.anchorsPem, requestCert: true, rejectUnauthorized: true }, (sock) => sock.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  // One client context, as the sidecar keeps one (building a context per connection costs more
  // than the handshake itself).
  const clientContext = createSecureContext({ ca: ca.anchorsPem, ...c });
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise<void>((res, rej) => {
      const sock = connect({ host: '127.0.0.1', port, secureContext: clientContext, checkServerIdentity: () => undefined }, () => {
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        sock.destroy();
        res();
      });
      sock.once('error', rej);
    });
  }
  const cpu = process.cpuUsage(cpu0);
  server.close();
  times.sort((a, b) => a - b);
  return { meanMs: times.reduce((a, b) => a + b, 0) / n, p50: times[Math.floor(n / 2)]!, p99: times[Math.floor(n * 0.99)]!, cpuMs: (cpu.user + cpu.system) / 1000 / n };
}

/** --profile DIR: the sidecars run with --cpu-prof (profiles written when they stop). */
const PROFILE = ((i) => (i >= 0 ? process.argv[i + 1] : undefined))(process.argv.indexOf('--profile'));

/** Starts `node <args>` as one of `group` and waits for `pattern` in its output. */
function launch(group: Running[], args: string[], env: Record<string, string>, pattern: RegExp): Promise<RegExpMatchArray> {
  const prof = PROFILE && args[1] === 'sidecar' ? ['--cpu-prof', '--cpu-prof-dir', PROFILE, '--cpu-prof-name', `${args[args.indexOf('--app-id') + 1]}-${args.includes('--enable-mtls') ? 'mtls' : 'plain'}.cpuprofile`] : [];
  const r = start(args.slice(0, 2).join(' '), process.execPath, [...prof, ...args], env);
  group.push(r);
  return waitFor(r, pattern);
}

interface Mesh {
  url: string;
  pids: number[];
  stop(): Promise<void>;
}

/** A mesh of the processes in `group`: requests go to `url`, CPU is counted for the last two. */
function meshOf(group: Running[], url: string): Mesh {
  return { url, pids: group.slice(-2).map((r) => r.child.pid!), stop: async () => void (await Promise.all(group.map(stop))) };
}

async function mesh(appPort: number, mtls: boolean): Promise<Mesh> {
  const home = mkdtempSync(join(tmpdir(), 'bulwark-bench-'));
  const resources = mkdtempSync(join(tmpdir(), 'bulwark-bench-res-'));
  const group: Running[] = [];
  let flags: string[] = [];
  if (mtls) {
    await new Promise<void>((r) => spawn(process.execPath, [CLI, 'cert', 'init'], { env: { ...process.env, BULWARK_HOME: home } }).once('exit', () => r()));
    const m = await launch(group, [CLI, 'sentry', '--port', '0'], { BULWARK_HOME: home }, /sentry listening on [^:]+:(\d+)/);
    flags = ['--enable-mtls', '--sentry-address', `127.0.0.1:${m[1]}`];
  }
  const common = ['--dapr-http-port', '0', '--dapr-grpc-port', '0', '--metrics-port', '0', '--resources-path', resources, '--log-level', 'warn', ...flags];
  const env = { BULWARK_HOME: home };
  await launch(group, [CLI, 'sidecar', '--app-id', 'callee', '--app-port', String(appPort), ...common, '--log-level', 'info'], env, /application discovered/);
  const a = await launch(group, [CLI, 'sidecar', '--app-id', 'caller', ...common, '--log-level', 'info'], env, /HTTP API listening on [^:\s]+:(\d+)/);
  return meshOf(group, `http://127.0.0.1:${a[1]}`);
}

interface Run {
  perSecond: number;
  /** CPU of both sidecars per request, ms. */
  cpuPerRequest: number;
}

async function drive(m: Mesh, seconds: number, concurrency: number): Promise<Run> {
  const pool = new Pool(m.url, { connections: concurrency });
  const cpu0 = m.pids.reduce((sum, pid) => sum + cpuSeconds(pid) * 1000, 0);
  const end = Date.now() + seconds * 1000;
  let n = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const res = await pool.request({ method: 'GET', path: '/v1.0/invoke/callee/method/ping' });
        await res.body.dump();
        if (res.statusCode === 200) n++;
        else failed++;
      }
    }),
  );
  await pool.close();
  const cpu = m.pids.reduce((sum, pid) => sum + cpuSeconds(pid) * 1000, 0) - cpu0;
  if (failed > 0) console.log(`  (${failed} failed requests)`);
  return { perSecond: n / seconds, cpuPerRequest: cpu / Math.max(1, n) };
}

/** The signature work of one mutual handshake with this key type: 2 signatures (server and
 * client CertificateVerify) and 4 verifications (each side checks a leaf and its issuer). */
function signatureWork(type: KeyType, rounds: number): number {
  const key = generateKey(type);
  const pub = createPublicKey(key);
  const data = Buffer.alloc(64, 1);
  const sig = sign('sha256', data, key);
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < rounds; i++) {
    sign('sha256', data, key);
    sign('sha256', data, key);
    for (let j = 0; j < 4; j++) verify('sha256', data, pub, sig);
  }
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / 1000 / rounds;
}

/** Plaintext against TLS, `rounds` times with fresh processes, start and drive order alternating. */
async function compare(title: string, who: string, make: (tls: boolean) => Promise<Mesh>, rounds: number, seconds: number, concurrency: number): Promise<void> {
  const plainRuns: Run[] = [];
  const mtlsRuns: Run[] = [];
  console.log(`${title}, two hops, ${concurrency} concurrent, ${rounds} rounds of ${seconds}s per variant, fresh processes each round, start and drive order alternating:`);
  for (let round = 0; round < rounds; round++) {
    const mtlsFirst = round % 2 === 1;
    const firstMesh = await make(mtlsFirst);
    const secondMesh = await make(!mtlsFirst);
    const [secure, plain] = mtlsFirst ? [firstMesh, secondMesh] : [secondMesh, firstMesh];
    await drive(plain, 1, concurrency); // warm-up both
    await drive(secure, 1, concurrency);
    const order = mtlsFirst ? [secure, plain] : [plain, secure];
    const runs: Run[] = [];
    for (const m of order) runs.push(await drive(m, seconds, concurrency));
    const [p, m] = mtlsFirst ? [runs[1]!, runs[0]!] : [runs[0]!, runs[1]!];
    plainRuns.push(p);
    mtlsRuns.push(m);
    console.log(
      `  round ${round + 1} (${mtlsFirst ? 'TLS' : 'plaintext'} first): plaintext ${p.perSecond.toFixed(0)} req/s ${(p.cpuPerRequest * 1000).toFixed(0)} µs CPU/req, ` +
        `TLS ${m.perSecond.toFixed(0)} req/s ${(m.cpuPerRequest * 1000).toFixed(0)} µs CPU/req, cost ${((1 - m.perSecond / p.perSecond) * 100).toFixed(1)}%`,
    );
    await Promise.all([firstMesh.stop(), secondMesh.stop()]);
  }
  const sum = (xs: Run[], k: keyof Run): number => xs.reduce((a, b) => a + b[k], 0);
  const p = sum(plainRuns, 'perSecond');
  const m = sum(mtlsRuns, 'perSecond');
  const pc = sum(plainRuns, 'cpuPerRequest') / rounds;
  const mc = sum(mtlsRuns, 'cpuPerRequest') / rounds;
  const costs = plainRuns.map((r, i) => 1 - mtlsRuns[i]!.perSecond / r.perSecond).sort((a, b) => a - b);
  const median = costs.length % 2 ? costs[(costs.length - 1) / 2]! : (costs[costs.length / 2 - 1]! + costs[costs.length / 2]!) / 2;
  console.log(`  throughput over all rounds: plaintext ${(p / rounds).toFixed(0)} req/s, TLS ${(m / rounds).toFixed(0)} req/s, cost ${((1 - m / p) * 100).toFixed(1)}% (median of rounds ${(median * 100).toFixed(1)}%)`);
  console.log(`  CPU per request (both ${who}): plaintext ${(pc * 1000).toFixed(0)} µs, TLS ${(mc * 1000).toFixed(0)} µs, extra ${((mc - pc) * 1000).toFixed(0)} µs (${((mc / pc - 1) * 100).toFixed(1)}%)`);
}

/** A workload certificate and key from `ca` for `app`. */
function svid(ca: CertificateAuthority, type: KeyType, app: string): { cert: string; key: string } {
  const k = generateKey(type);
  return { cert: ca.signWorkload({ publicKey: createPublicKey(k), spiffeId: `spiffe://public/ns/default/${app}` }).certChain, key: keyPem(k) };
}

/** A CA and one workload certificate from it (the floor's hops use the same one both ways). */
function workloadCredentials(type: KeyType): { ca: string; cert: string; key: string } {
  const ca = new CertificateAuthority(generateCa({ trustDomain: 'bench', keyType: type }));
  return { ca: ca.anchorsPem, ...svid(ca, type, 'floor') };
}

/** The floor's chain: client -> hop A -> hop B -> app, TLS (client certificates) between A and B or not. */
async function floorMesh(appPort: number, tls: boolean, creds: { ca: string; cert: string; key: string }): Promise<Mesh> {
  const group: Running[] = [];
  const env = { FLOOR_CA: creds.ca, FLOOR_CERT: creds.cert, FLOOR_KEY: creds.key };
  const b = await launch(group, [FLOOR, '--upstream', `http://127.0.0.1:${appPort}`, ...(tls ? ['--tls-in'] : [])], env, /FLOOR-PORT (\d+)/);
  const a = await launch(group, [FLOOR, '--upstream', `${tls ? 'https' : 'http'}://127.0.0.1:${b[1]}`, ...(tls ? ['--tls-out'] : [])], env, /FLOOR-PORT (\d+)/);
  return meshOf(group, `http://127.0.0.1:${a[1]}`);
}

async function main(): Promise<void> {
  const n = arg('handshakes', 300);
  for (const t of ['ec-p256', 'rsa-2048'] as const) {
    console.log(`signature work per mutual handshake, ${t}: ${signatureWork(t, 300).toFixed(3)} ms CPU`);
  }
  for (const t of ['ec-p256', 'rsa-2048'] as const) {
    const r = await handshakes(t, n);
    console.log(`full mutual-TLS handshake, ${t}: wall mean ${r.meanMs.toFixed(2)} ms, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms; CPU ${r.cpuMs.toFixed(2)} ms per handshake, both ends (${n} sequential, loopback)`);
  }
  if (process.argv.includes('--handshakes-only')) return;
  const app = createHttpServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
  const appPort = (app.address() as AddressInfo).port;
  const seconds = arg('seconds', 4);
  const rounds = arg('rounds', 4);
  const concurrency = arg('concurrency', 32);
  await compare('bulwark sidecars', 'sidecars', (tls) => mesh(appPort, tls), rounds, seconds, concurrency);
  if (process.argv.includes('--floor')) {
    const floorCreds = workloadCredentials('ec-p256');
    await compare('floor: two bare Node hops (http server + undici pool, loadtest/mtls-floor.ts)', 'hops', (tls) => floorMesh(appPort, tls, floorCreds), rounds, seconds, concurrency);
  }
  app.close();
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
