// Pub/sub benchmark (not a test): publish -> deliver throughput and latency through two sidecars
// (publisher sidecar -> broker -> subscriber sidecar -> app) against a direct client of the same
// broker (the broker component used in-process, no sidecars), in the same run.
//
//   npm run build && node dist/loadtest/pubsub.js [--broker sqlite|redis] [--messages 5000] [--concurrency 32]
//                                                [--repeats 1] [--base OTHER/dist/cli/main.js]
//                                                [--profile DIR]   (CPU profiles of both sidecars, or floor processes)
//                                                [--floor]         (redis only: adds the floor row)
//                                                [--warmup 1000]   (messages sent first, not measured)
//                                                [--sidecar-args "--enable-metrics=false ..."]
//                                                                  (added to both sidecars of this build)
//
// --repeats runs the rows interleaved (direct, sidecars, direct, sidecars...); --base adds a row of
// sidecars from another build (e.g. a copy of dist/ before a change), its place alternating with
// this build's from one repeat to the next, for before/after figures from one noisy run.
// --floor adds a row of two bare Node processes (loadtest/pubsub-floor.ts) that do only the two
// HTTP exchanges and the broker calls, no sidecar feature at all: what a two-sidecar design could
// reach on this machine at best, measured the same way.
// Every row first sends --warmup messages and waits for them to arrive (cold sidecars run their
// first messages in the interpreter and open their pools: without it the p99 of a 5,000-message
// run is mostly the first second); throughput, latency and CPU count only the messages after.
// Latency is measured from just before the publish call to the moment the app (or the direct
// subscriber) receives the message; both sides run in this process, so clocks agree.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpuTimes } from './procs.js';
import { Pool } from 'undici';
import type { ComponentContext, Logger } from '../core/component.js';
import type { PubSub } from '../core/pubsub/component.js';
import { createRedisPubSub } from '../components/pubsub/redis.js';
import { createSqlitePubSub } from '../components/pubsub/sqlite.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(ROOT, 'dist/cli/main.js');
const FLOOR = join(ROOT, 'dist/loadtest/pubsub-floor.js');

interface Args {
  broker: 'sqlite' | 'redis';
  messages: number;
  /** Messages sent (and received) before measuring. */
  warmup: number;
  concurrency: number;
  /** --cpu-prof-dir for the two sidecars (their profiles are written when they stop). */
  profile: string | undefined;
  repeats: number;
  /** Another build's cli/main.js, compared interleaved with this one. */
  base: string | undefined;
  /** Extra arguments for this build's two sidecars (not the base's), e.g. to switch a feature off. */
  sidecarArgs: string[];
  /** Add the floor row (bare Node publisher and subscriber processes). */
  floor: boolean;
}

function parse(argv: string[]): Args {
  const get = (name: string, dflt: string): string => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] ? argv[i + 1]! : dflt;
  };
  const broker = get('broker', 'sqlite');
  if (broker !== 'sqlite' && broker !== 'redis') throw new Error('--broker must be sqlite or redis');
  if (argv.includes('--floor') && broker !== 'redis') throw new Error('--floor is measured with --broker redis only');
  const profile = get('profile', '');
  const base = get('base', '');
  return {
    broker,
    messages: Number(get('messages', '5000')),
    warmup: Math.max(0, Number(get('warmup', '1000'))),
    concurrency: Number(get('concurrency', '32')),
    profile: profile ? resolve(profile) : undefined,
    repeats: Math.max(1, Number(get('repeats', '1'))),
    base: base ? resolve(base) : undefined,
    floor: argv.includes('--floor'),
    sidecarArgs: get('sidecar-args', '').split(' ').filter((x) => x !== ''),
  };
}

interface Result {
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  /** CPU time per message, µs: the broker processes' (the sidecars', or this process's for direct). */
  cpuUs: number;
  cpuNote: string;
}

function summarize(latencies: number[], seconds: number, cpuUs: number, cpuNote: string): Result {
  const s = [...latencies].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
  return { seconds, perSecond: latencies.length / seconds, p50: q(0.5), p99: q(0.99), cpuUs, cpuNote };
}

/** User + system CPU seconds a child has used, and the system part (Linux /proc; 0 elsewhere). */
function cpuOf(pid: number | undefined): { total: number; sys: number } {
  try {
    const t = cpuTimes(pid!);
    return { total: t.user + t.sys, sys: t.sys };
  } catch {
    return { total: 0, sys: 0 };
  }
}

function selfCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function metadataFor(a: Args, dir: string, topicSuffix: string): Record<string, string> {
  void topicSuffix;
  return a.broker === 'sqlite' ? { connectionString: join(dir, 'bench.db'), pollInterval: '20ms' } : { redisHost: '127.0.0.1:6379' };
}

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

async function component(a: Args, dir: string, appId: string): Promise<PubSub> {
  const ctx: ComponentContext = { name: 'pubsub', type: `pubsub.${a.broker}`, version: 'v1', metadata: metadataFor(a, dir, ''), appId, homeDir: dir, cwd: dir, env: {}, logger: quiet };
  return a.broker === 'sqlite' ? createSqlitePubSub(ctx) : createRedisPubSub(ctx);
}

/** Runs publishes `from` .. `to - 1` with `concurrency` in flight. */
async function drive(from: number, to: number, concurrency: number, publishOne: (i: number) => Promise<void>): Promise<void> {
  let next = from;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < to) await publishOne(next++);
    }),
  );
}

/** Arrivals of messages 0 .. warmup + messages - 1; latencies of the measured ones only. */
class Arrivals {
  readonly sent: Float64Array;
  readonly latencies: number[] = [];
  private count = 0;
  private target = Infinity;
  private wake: (() => void) | undefined;

  constructor(private readonly warmup: number, messages: number) {
    this.sent = new Float64Array(warmup + messages);
  }

  arrived(i: number): void {
    if (i >= this.warmup) this.latencies.push(performance.now() - this.sent[i]!);
    if (++this.count >= this.target) this.wake?.();
  }

  /** Resolves once `n` messages (redeliveries included) have arrived. */
  until(n: number): Promise<void> {
    this.target = n;
    return this.count >= n ? Promise.resolve() : new Promise((r) => (this.wake = r));
  }
}

async function direct(a: Args, dir: string, topic: string): Promise<Result> {
  const pub = await component(a, dir, 'bench-direct-pub');
  const sub = await component(a, dir, 'bench-direct-sub');
  const arrivals = new Arrivals(a.warmup, a.messages);
  const handle = await sub.subscribe({ topic, metadata: {} }, async (msg) => arrivals.arrived(Number(msg.data.toString())));
  const publishOne = async (i: number): Promise<void> => {
    arrivals.sent[i] = performance.now();
    await pub.publish({ topic, data: Buffer.from(String(i)), metadata: {} });
  };
  await drive(0, a.warmup, a.concurrency, publishOne);
  await arrivals.until(a.warmup);
  const t0 = performance.now();
  const cpu0 = selfCpu();
  await drive(a.warmup, a.warmup + a.messages, a.concurrency, publishOne);
  await arrivals.until(a.warmup + a.messages);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = selfCpu() - cpu0;
  await handle.close();
  await pub.close?.();
  await sub.close?.();
  return summarize(arrivals.latencies, seconds, (cpu * 1e6) / a.messages, 'whole process: publisher, broker client, subscriber');
}

function startSidecarProcess(cli: string, args: string[], home: string, profile: string | undefined): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolveStart, reject) => {
    const child = spawn(process.execPath, [...(profile ? ['--cpu-prof', '--cpu-prof-dir', profile, '--cpu-prof-interval', '250'] : []), cli, ...args, '--dapr-http-port', '0', '--dapr-grpc-port', '0', '--metrics-port', '0'], { env: { ...process.env, BULWARK_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /HTTP API listening on [^:\s]+:(\d+)/.exec(out);
      if (m) {
      child.stdout!.off('data', onData);
      child.stderr!.off('data', onData);
      child.stdout!.resume();
      child.stderr!.resume();
      resolveStart({ child, port: Number(m[1]) });
    }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`sidecar exited (${code}): ${out}`)));
  });
}

/** What runs between the client and the app: sidecars of a build (its cli/main.js), or the floor. */
type Pair = { cli: string } | 'floor';

async function throughSidecars(a: Args, dir: string, topic: string, pair: Pair): Promise<Result> {
  const resources = join(dir, 'resources');
  mkdirSync(resources, { recursive: true });
  const md = Object.entries(metadataFor(a, dir, '')).map(([k, v]) => `  - name: ${k}\n    value: "${v}"`).join('\n');
  writeFileSync(join(resources, 'pubsub.yaml'), `apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: pubsub\nspec:\n  type: pubsub.${a.broker}\n  version: v1\n  metadata:\n${md}\n`);
  const arrivals = new Arrivals(a.warmup, a.messages);
  const app: Server = createServer((req, res) => {
    if (req.url === '/dapr/subscribe') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([{ pubsubname: 'pubsub', topic, route: '/in' }]));
      return;
    }
    if (req.url !== '/in') {
      // /dapr/config, health probes and the like: nothing the benchmark needs.
      req.resume();
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200).end();
      arrivals.arrived((JSON.parse(Buffer.concat(chunks).toString()) as { data: number }).data);
    });
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
  const appPort = (app.address() as AddressInfo).port;
  const home = mkdtempSync(join(tmpdir(), 'bulwark-bench-home-'));
  const redisHost = metadataFor(a, dir, '').redisHost!;
  const sub = pair === 'floor'
    ? await startSidecarProcess(FLOOR, ['sub', '--redis-host', redisHost, '--app-port', String(appPort), '--topic', topic], home, a.profile)
    : await startSidecarProcess(pair.cli, ['sidecar', '--app-id', 'bench-sub', '--app-port', String(appPort), '--resources-path', resources, ...(pair.cli === CLI ? a.sidecarArgs : [])], home, a.profile);
  const pub = pair === 'floor'
    ? await startSidecarProcess(FLOOR, ['pub', '--redis-host', redisHost], home, a.profile)
    : await startSidecarProcess(pair.cli, ['sidecar', '--app-id', 'bench-pub', '--resources-path', resources, ...(pair.cli === CLI ? a.sidecarArgs : [])], home, a.profile);
  if (a.profile) console.log(`  (profiles in ${a.profile}: publisher pid ${pub.child.pid}, subscriber pid ${sub.child.pid})`);
  try {
    const subPool = new Pool(`http://127.0.0.1:${sub.port}`);
    for (;;) {
      const r = await subPool.request({ method: 'GET', path: '/v1.0/metadata' });
      const m = (await r.body.json()) as { subscriptions?: unknown[] };
      if ((m.subscriptions ?? []).length > 0) break;
      await new Promise((r2) => setTimeout(r2, 50));
    }
    await subPool.close();
    const pool = new Pool(`http://127.0.0.1:${pub.port}`, { connections: a.concurrency });
    const publishOne = async (i: number): Promise<void> => {
      arrivals.sent[i] = performance.now();
      const r = await pool.request({ method: 'POST', path: `/v1.0/publish/pubsub/${topic}`, headers: { 'content-type': 'application/json' }, body: String(i) });
      await r.body.dump();
      if (r.statusCode !== 204) throw new Error(`publish answered ${r.statusCode}`);
    };
    await drive(0, a.warmup, a.concurrency, publishOne);
    await arrivals.until(a.warmup);
    const t0 = performance.now();
    const cpuPub0 = cpuOf(pub.child.pid);
    const cpuSub0 = cpuOf(sub.child.pid);
    const cpuHarness0 = selfCpu();
    await drive(a.warmup, a.warmup + a.messages, a.concurrency, publishOne);
    const published = (performance.now() - t0) / 1000;
    await arrivals.until(a.warmup + a.messages);
    console.log(`  (sidecars: all publishes answered after ${published.toFixed(2)} s)`);
    const seconds = (performance.now() - t0) / 1000;
    const cpuHarness = selfCpu() - cpuHarness0;
    const pubNow = cpuOf(pub.child.pid);
    const subNow = cpuOf(sub.child.pid);
    const cpuPub = pubNow.total - cpuPub0.total;
    const cpuSub = subNow.total - cpuSub0.total;
    const sysPub = pubNow.sys - cpuPub0.sys;
    const sysSub = subNow.sys - cpuSub0.sys;
    await pool.close();
    const us = (x: number): string => ((x * 1e6) / a.messages).toFixed(0);
    return summarize(arrivals.latencies, seconds, ((cpuPub + cpuSub) * 1e6) / a.messages, `${pair === 'floor' ? 'both floor processes' : 'both sidecars'}: publisher ${us(cpuPub)} (sys ${us(sysPub)}) + subscriber ${us(cpuSub)} (sys ${us(sysSub)}); this process, client + app: ${us(cpuHarness)}`);
  } finally {
    await Promise.all([pub, sub].map((p) => new Promise<void>((r) => {
      p.child.once('exit', () => r());
      p.child.kill('SIGTERM');
    })));
    await new Promise<void>((r) => app.close(() => r()));
  }
}

const fmt = (r: Result): string =>
  `${r.perSecond.toFixed(0).padStart(7)} msg/s   p50 ${r.p50.toFixed(1).padStart(7)} ms   p99 ${r.p99.toFixed(1).padStart(7)} ms   (${r.seconds.toFixed(2)} s)   CPU ${r.cpuUs.toFixed(0)} µs/msg (${r.cpuNote})`;

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-bench-'));
  const stamp = `${process.pid}-${Date.now()}`;
  console.log(`pub/sub benchmark: broker ${a.broker}, ${a.messages} messages after ${a.warmup} unmeasured, ${a.concurrency} publishes in flight, ${a.repeats} interleaved repeat(s)${a.base ? `, base build ${a.base}` : ''}`);
  const rows: Record<string, Result[]> = { direct: [], sidecars: [], base: [], floor: [] };
  const label: Record<string, string> = { sidecars: 'two sidecars  ', base: 'base sidecars ', floor: 'floor (bare)  ' };
  const pairOf: Record<string, Pair> = { sidecars: { cli: CLI }, base: { cli: a.base ?? CLI }, floor: 'floor' };
  for (let r = 0; r < a.repeats; r++) {
    const d = await direct(a, dir, `bench-direct-${stamp}-${r}`);
    rows.direct!.push(d);
    console.log(`direct client   ${fmt(d)}`);
    const order = a.base && r % 2 === 1 ? ['base', 'sidecars'] : a.base ? ['sidecars', 'base'] : ['sidecars'];
    if (a.floor) order.push('floor');
    for (const row of order) {
      const s = await throughSidecars(a, dir, `bench-${row}-${stamp}-${r}`, pairOf[row]!);
      rows[row]!.push(s);
      console.log(`${label[row]}  ${fmt(s)}   ratio ${(s.perSecond / d.perSecond).toFixed(2)}x`);
    }
  }
  const range = (xs: number[], digits = 0): string => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
  console.log('summary (min–max over repeats):');
  for (const [row, rs] of Object.entries(rows)) {
    if (rs.length === 0) continue;
    const ratios = rs.map((x, i) => x.perSecond / rows.direct![i]!.perSecond);
    console.log(`  ${row.padEnd(9)} ${range(rs.map((x) => x.perSecond))} msg/s, p50 ${range(rs.map((x) => x.p50), 1)} ms, p99 ${range(rs.map((x) => x.p99), 1)} ms, CPU ${range(rs.map((x) => x.cpuUs))} µs/msg${row === 'direct' ? '' : `, ratio ${range(ratios, 2)}x`}`);
  }
}

await main();
