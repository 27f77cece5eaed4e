// bulwark load test: one command that measures the sidecar against a direct call, nginx, a bare
// undici proxy and node http-proxy, in the same run, with repeats interleaved (A B A B) so drift on a shared machine
// cancels. See loadtest/README.md for the method.
//
//   npm run loadtest -- <scenario|all> [--rate 1000] [--duration 3] [--connections 50] [--repeats 2]
//                       [--engine wrk|node] [--out loadtest/results]
//
// Scenarios: direct, nginx, http-proxy, front, invoke, invoke-mtls, state-get, state-save,
// publish-deliver, tracing (the observability engineer's loadtest/observability.ts), all.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../cli/free-port.js';
import { closedLoop, findWrk, fixedRate, httpFire, wrkRun, type Fire, type HttpRequestSpec, type RunResult } from './generator.js';
import { summarize, type LatencySummary } from './latency.js';
import { latencySvg, type PlotSeries } from './plot.js';
import { CLI, REDIS_STATESTORE_YAML, ROOT, cpuSeconds, rssMB, start, stealMeter, stopAll, waitEntry, waitFor, type Running } from './procs.js';

// ---------------------------------------------------------------------------------------------
// Arguments

interface Args {
  scenarios: string[];
  rate: number;
  duration: number;
  connections: number;
  repeats: number;
  engine: 'wrk' | 'node';
  out: string;
}

const BARE = 'bare undici proxy';
const BARE_2 = 'two bare undici proxies';
const HTTP_SCENARIOS = ['direct', 'nginx', 'http-proxy', 'front', 'invoke', 'invoke-mtls'];
const ALL = [...HTTP_SCENARIOS, 'state-get', 'state-save', 'publish-deliver', 'tracing'];

function parseArgs(argv: string[]): Args {
  const get = (n: string, d: string): string => {
    const i = argv.indexOf(`--${n}`);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : d;
  };
  const positional = argv.filter((a, i) => !a.startsWith('--') && (i === 0 || !argv[i - 1]!.startsWith('--')));
  const names = positional.length === 0 ? ['all'] : positional;
  const scenarios = names.includes('all') ? ALL : names;
  for (const s of scenarios) if (!ALL.includes(s)) throw new Error(`unknown scenario ${s}; one of: ${ALL.join(', ')}, all`);
  const engine = get('engine', 'wrk');
  if (engine !== 'wrk' && engine !== 'node') throw new Error('--engine is wrk or node');
  return {
    scenarios,
    rate: Number(get('rate', '1000')),
    duration: Number(get('duration', '3')),
    connections: Number(get('connections', '50')),
    repeats: Number(get('repeats', '2')),
    engine,
    out: get('out', join(ROOT, 'loadtest/results')),
  };
}

// ---------------------------------------------------------------------------------------------
// Progress

let progressLine = '';
function progress(text: string): void {
  if (!process.stderr.isTTY) {
    if (!text.endsWith('%')) process.stderr.write(text + '\n');
    return;
  }
  progressLine = text;
  process.stderr.write(`\r\x1b[K${text}`);
}
function progressDone(): void {
  if (process.stderr.isTTY && progressLine) process.stderr.write('\r\x1b[K');
  progressLine = '';
}

// ---------------------------------------------------------------------------------------------
// The fixture: one app, nginx, http-proxy, sidecars, started on demand and stopped by PID.

const APP = `const http = require('node:http');
http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/dapr/config') { res.writeHead(404); res.end(); return; }
  req.resume(); req.on('end', () => { res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }); res.end('ok'); });
}).listen(0, '127.0.0.1', function () { console.log('APP-PORT ' + this.address().port); });`;

interface Endpoint {
  origin: string;
  /** Processes whose CPU and RSS are charged to this target (sidecars, nginx, http-proxy). */
  pids: number[];
}

class Fixture {
  readonly dir = mkdtempSync(join(tmpdir(), 'bulwark-loadtest-'));
  private appPort?: number;
  private cache = new Map<string, Promise<Endpoint>>();

  constructor(private readonly a: Args) {}

  private resources(): string {
    const dir = join(this.dir, 'resources');
    mkdirSync(dir, { recursive: true });
    // Every layer on: metrics, a resiliency policy on the app, tracing at sampling 0.
    writeFileSync(join(dir, 'resiliency.yaml'), `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: bench
spec:
  policies:
    timeouts:
      general: 10s
    retries:
      quick:
        policy: constant
        duration: 10ms
        maxRetries: 2
  targets:
    apps:
      bench-app:
        timeout: general
        retry: quick
`);
    writeFileSync(join(dir, 'statestore.yaml'), REDIS_STATESTORE_YAML);
    writeFileSync(join(this.dir, 'config.yaml'), `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: bench
spec:
  tracing:
    samplingRate: "0"
  metric:
    enabled: true
`);
    return dir;
  }

  async app(): Promise<number> {
    if (this.appPort) return this.appPort;
    const r = start('app', process.execPath, ['-e', APP]);
    this.appPort = Number((await waitFor(r, /APP-PORT (\d+)/))[1]);
    return this.appPort;
  }

  endpoint(name: string): Promise<Endpoint> {
    let p = this.cache.get(name);
    if (!p) {
      p = this.make(name);
      this.cache.set(name, p);
    }
    return p;
  }

  private async make(name: string): Promise<Endpoint> {
    const appPort = await this.app();
    switch (name) {
      case 'direct':
        return { origin: `http://127.0.0.1:${appPort}`, pids: [] };
      case 'nginx':
        return this.nginx(appPort);
      case 'http-proxy':
      case 'undici-proxy':
        return this.reference(name === 'http-proxy' ? 'http-proxy' : 'undici', `http://127.0.0.1:${appPort}`);
      case 'undici-proxy-2': {
        // Two bare proxies in a row: what any two Node HTTP hops cost, the floor of `invoke`.
        const second = await this.reference('undici', `http://127.0.0.1:${appPort}`);
        const first = await this.reference('undici', second.origin);
        return { origin: first.origin, pids: [...first.pids, ...second.pids] };
      }
      case 'front': {
        const s = await this.sidecar('plain', 'bench-app', appPort);
        return { origin: `http://127.0.0.1:${s.entry.publicPort}`, pids: [s.pid] };
      }
      case 'api': {
        const s = await this.sidecar('plain', 'bench-app', appPort);
        return { origin: `http://127.0.0.1:${s.entry.httpPort}`, pids: [s.pid] };
      }
      case 'invoke':
      case 'invoke-mtls': {
        const flavour = name === 'invoke' ? 'plain' : 'mtls';
        const callee = await this.sidecar(flavour, 'bench-app', appPort);
        const caller = await this.sidecar(flavour, 'bench-caller', undefined);
        return { origin: `http://127.0.0.1:${caller.entry.httpPort}`, pids: [caller.pid, callee.pid] };
      }
      default:
        throw new Error(`no endpoint ${name}`);
    }
  }

  private async reference(kind: 'http-proxy' | 'undici', target: string): Promise<Endpoint> {
    const port = await freePort();
    const r = start(`${kind} proxy`, process.execPath, [join(ROOT, 'dist/loadtest/proxy-ref.js'), kind, String(port), target]);
    await waitFor(r, /proxy listening/);
    return { origin: `http://127.0.0.1:${port}`, pids: [r.child.pid!] };
  }

  private sidecars = new Map<string, Promise<{ pid: number; entry: Awaited<ReturnType<typeof waitEntry>> }>>();
  private sentry?: Promise<string[]>;

  private sidecar(flavour: 'plain' | 'mtls', appId: string, appPort: number | undefined): Promise<{ pid: number; entry: Awaited<ReturnType<typeof waitEntry>> }> {
    const key = `${flavour}/${appId}`;
    let p = this.sidecars.get(key);
    if (!p) {
      p = (async () => {
        const home = join(this.dir, `home-${flavour}`);
        mkdirSync(home, { recursive: true });
        const resources = this.resources();
        const flags = flavour === 'mtls' ? await this.sentryFlags(home) : [];
        const args = [CLI, 'sidecar', '--app-id', appId, '--dapr-http-port', '0', '--dapr-grpc-port', '0', '--metrics-port', '0', '--public-port', '0', '--resources-path', resources, '--config', join(this.dir, 'config.yaml'), '--log-level', 'warn', ...flags];
        if (appPort !== undefined) args.push('--app-port', String(appPort));
        const r = start(`sidecar ${key}`, process.execPath, [...cpuProfFlags(key), ...args], { BULWARK_HOME: home });
        const entry = await waitEntry(home, appId, r);
        return { pid: r.child.pid!, entry };
      })();
      this.sidecars.set(key, p);
    }
    return p;
  }

  private sentryFlags(home: string): Promise<string[]> {
    this.sentry ??= (async () => {
      await new Promise<void>((r) => spawn(process.execPath, [CLI, 'cert', 'init'], { env: { ...process.env, BULWARK_HOME: home }, stdio: 'ignore' }).once('exit', () => r()));
      const s = start('sentry', process.execPath, [CLI, 'sentry', '--port', '0'], { BULWARK_HOME: home });
      const m = await waitFor(s, /sentry listening on [^:]+:(\d+)/);
      return ['--enable-mtls', '--sentry-address', `127.0.0.1:${m[1]}`];
    })();
    return this.sentry;
  }

  private async nginx(appPort: number): Promise<Endpoint> {
    const bin = await which('nginx');
    if (!bin) throw new Error('nginx is not installed (apt-get install -y nginx)');
    const port = await freePort();
    const dir = join(this.dir, 'nginx');
    mkdirSync(join(dir, 'logs'), { recursive: true });
    writeFileSync(join(dir, 'nginx.conf'), `worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app { server 127.0.0.1:${appPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`);
    const r = start('nginx', bin, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'logs/error.log')]);
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/x`);
        await res.arrayBuffer();
        if (res.ok) break;
      } catch {
        /* not yet */
      }
      if (r.child.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start: ${r.out}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    // The master forks one worker; charge both.
    return { origin: `http://127.0.0.1:${port}`, pids: [r.child.pid!] };
  }

  async close(): Promise<void> {
    await stopAll();
  }
}

/** `--cpu-prof` for sidecars when LOADTEST_CPU_PROF=<dir> is set (profiles written on exit). */
function cpuProfFlags(key: string): string[] {
  const dir = process.env['LOADTEST_CPU_PROF'];
  return dir ? ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', `${key.replace(/\W/g, '-')}.cpuprofile`] : [];
}

function which(cmd: string): Promise<string | null> {
  return new Promise((r) => {
    const c = spawn('sh', ['-c', `command -v ${cmd}`], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.once('exit', (code) => r(code === 0 && out.trim() ? out.trim() : null));
  });
}

/** A process and its children (nginx's worker), for CPU and RSS. */
function withChildren(pid: number): number[] {
  const out = [pid];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (kids) for (const k of kids.split(/\s+/)) out.push(...withChildren(Number(k)));
    }
  } catch {
    /* gone */
  }
  return out;
}
const cpuOf = (pids: number[]): number => pids.flatMap(withChildren).reduce((s, p) => s + cpuSeconds(p), 0);
const rssOf = (pids: number[]): number => pids.flatMap(withChildren).reduce((s, p) => s + rssMB(p), 0);

// ---------------------------------------------------------------------------------------------
// Targets: how one row of a table is driven.

interface Target {
  name: string;
  /** For the fixed-rate and in-process max modes. */
  fire(): Promise<{ fire: Fire; close(): Promise<void> }>;
  /** For wrk in max mode (HTTP targets). */
  http?: () => Promise<{ url: string; spec: HttpRequestSpec }>;
  pids(): Promise<number[]>;
}

function httpTarget(f: Fixture, a: Args, name: string, endpointName: string, spec: HttpRequestSpec): Target {
  return {
    name,
    async fire() {
      const e = await f.endpoint(endpointName);
      return httpFire(e.origin, spec, a.connections);
    },
    async http() {
      const e = await f.endpoint(endpointName);
      return { url: e.origin + spec.path, spec };
    },
    async pids() {
      return (await f.endpoint(endpointName)).pids;
    },
  };
}

const GET_X: HttpRequestSpec = { method: 'GET', path: '/x', expect: 200 };
const INVOKE: HttpRequestSpec = { method: 'GET', path: '/v1.0/invoke/bench-app/method/x', expect: 200 };
const STATE_GET: HttpRequestSpec = { method: 'GET', path: '/v1.0/state/statestore/bench-key', expect: 200 };
const STATE_SAVE: HttpRequestSpec = { method: 'POST', path: '/v1.0/state/statestore', body: JSON.stringify([{ key: 'bench-key', value: { n: 1, s: 'hello' } }]), headers: { 'content-type': 'application/json' }, expect: 204 };

function redisTarget(name: string, op: (r: Redis) => Promise<unknown>, connections: number): Target {
  return {
    name,
    async fire() {
      // One connection, as the sidecar's component uses; ioredis pipelines concurrent commands.
      void connections;
      const r = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, enableAutoPipelining: false });
      await r.connect();
      return {
        fire: async () => {
          await op(r);
          return true;
        },
        close: async () => void r.disconnect(),
      };
    },
    async pids() {
      return [];
    },
  };
}

/** The ceiling of any HTTP API in front of Redis for this client: the same requests (same verb,
 * same body) answered at once by the bench app, a plain Node HTTP server that touches no store. */
function httpFloor(f: Fixture, a: Args, method: 'GET' | 'POST'): Target {
  const spec: HttpRequestSpec = method === 'GET' ? GET_X : { ...STATE_SAVE, path: '/x', expect: 200 };
  return httpTarget(f, a, `HTTP only (node app, no store: the ceiling)`, 'direct', spec);
}

/** The rows of each scenario's table; the first is what ratios are taken against. */
function targetsFor(s: string, f: Fixture, a: Args): Target[] {
  const direct = httpTarget(f, a, 'direct', 'direct', GET_X);
  const nginx = httpTarget(f, a, 'nginx', 'nginx', GET_X);
  // The yardstick the one-hop goal names: "the full sidecar at least as fast as that bare proxy".
  const bare = httpTarget(f, a, BARE, 'undici-proxy', GET_X);
  switch (s) {
    case 'direct':
      return [direct];
    case 'nginx':
      return [direct, nginx];
    case 'http-proxy':
      return [direct, nginx, bare, httpTarget(f, a, 'http-proxy', 'http-proxy', GET_X)];
    case 'front':
      return [direct, nginx, bare, httpTarget(f, a, 'bulwark front', 'front', GET_X)];
    case 'invoke':
      return [direct, nginx, httpTarget(f, a, BARE_2, 'undici-proxy-2', GET_X), httpTarget(f, a, 'bulwark invoke (2 hops)', 'invoke', INVOKE)];
    case 'invoke-mtls':
      return [direct, nginx, httpTarget(f, a, 'bulwark invoke (2 hops, mTLS)', 'invoke-mtls', INVOKE)];
    case 'state-get': {
      const get = httpTarget(f, a, 'bulwark state get', 'api', STATE_GET);
      const open = get.fire.bind(get);
      // The key must exist (a missing key answers 204): save it once through the sidecar.
      get.fire = async () => {
        const e = await f.endpoint('api');
        const r = await fetch(`${e.origin}${STATE_SAVE.path}`, { method: 'POST', headers: STATE_SAVE.headers!, body: STATE_SAVE.body! });
        await r.arrayBuffer();
        return open();
      };
      return [redisTarget('ioredis HMGET (direct)', (r) => r.hmget('bench-app||bench-key', 'data', 'version'), a.connections), httpFloor(f, a, 'GET'), get];
    }
    case 'state-save':
      return [redisTarget('ioredis HSET (direct)', (r) => r.hset('bench-direct||bench-key', 'data', '{"n":1,"s":"hello"}', 'version', '1'), a.connections), httpFloor(f, a, 'POST'), httpTarget(f, a, 'bulwark state save', 'api', STATE_SAVE)];
    default:
      throw new Error(`no targets for ${s}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Measuring

interface Row {
  target: string;
  rate: { summary: LatencySummary; throughput: number; errors: number; cpuUsPerReq: number | null; rssMB: number | null; sorted: Float64Array };
  max: { summary: Omit<LatencySummary, 'count' | 'mean'>; throughput: number; errors: number; cpuUsPerReq: number | null; rssMB: number | null; engine: string };
  idleRssMB: number | null;
  perRepeatMax: number[];
}

interface ScenarioResult {
  scenario: string;
  rows: Row[];
  note?: string;
  raw?: string;
  /** The hypervisor's steal during the scenario (see stealMeter). */
  steal?: string;
}

async function measure(s: string, f: Fixture, a: Args): Promise<ScenarioResult> {
  const targets = targetsFor(s, f, a);
  const wrk = a.engine === 'wrk' ? await findWrk() : null;
  const inProcessOnly = s.startsWith('state-');
  // Start everything first (and warm up), so start-up is not measured.
  const fires = new Map<string, { fire: Fire; close(): Promise<void> }>();
  const idle = new Map<string, number | null>();
  for (const t of targets) {
    progress(`[${s}] starting ${t.name}`);
    const fr = await t.fire();
    fires.set(t.name, fr);
    const pids = await t.pids();
    idle.set(t.name, pids.length ? rssOf(pids) : null);
    progress(`[${s}] warming up ${t.name}`);
    await closedLoop(fr.fire, Math.min(16, a.connections), Math.min(1, a.duration));
  }
  type Acc = { lat: number[]; ok: number; errors: number; secs: number; cpu: number; rss: number; q: { p50: number; p90: number; p99: number; max: number }[]; engine: string; tputs: number[] };
  const acc = (): Acc => ({ lat: [], ok: 0, errors: 0, secs: 0, cpu: 0, rss: 0, q: [], engine: '', tputs: [] });
  const rate = new Map<string, Acc>(targets.map((t) => [t.name, acc()]));
  const max = new Map<string, Acc>(targets.map((t) => [t.name, acc()]));
  for (let rep = 0; rep < a.repeats; rep++) {
    // A B A B: every target at the fixed rate, then every target at max, per repeat.
    for (const t of targets) {
      const pids = await t.pids();
      const c0 = pids.length ? cpuOf(pids) : 0;
      const r = await fixedRate(fires.get(t.name)!.fire, a.rate, a.duration, (x) => progress(`[${s}] ${rep + 1}/${a.repeats} ${t.name} @ ${a.rate} req/s ${(x * 100).toFixed(0)}%`));
      const m = rate.get(t.name)!;
      if (pids.length) {
        m.cpu += cpuOf(pids) - c0;
        m.rss = Math.max(m.rss, rssOf(pids));
      }
      for (const l of r.latencies) m.lat.push(l);
      m.ok += r.ok;
      m.errors += r.errors;
      m.secs += r.seconds;
    }
    for (const t of targets) {
      const pids = await t.pids();
      const c0 = pids.length ? cpuOf(pids) : 0;
      let rss = 0;
      const sampler = pids.length ? setInterval(() => (rss = Math.max(rss, rssOf(pids))), 200) : undefined;
      let r: RunResult & { quantiles?: { p50: number; p90: number; p99: number; max: number } };
      progress(`[${s}] ${rep + 1}/${a.repeats} ${t.name} max throughput`);
      if (wrk && !inProcessOnly && t.http) {
        const h = await t.http();
        r = await wrkRun(wrk, h.url, h.spec, a.connections, a.duration, join(f.dir, 'wrk.lua'));
      } else {
        r = await closedLoop(fires.get(t.name)!.fire, a.connections, a.duration, (x) => progress(`[${s}] ${rep + 1}/${a.repeats} ${t.name} max throughput ${(x * 100).toFixed(0)}%`));
      }
      if (sampler) clearInterval(sampler);
      const m = max.get(t.name)!;
      if (pids.length) {
        m.cpu += cpuOf(pids) - c0;
        m.rss = Math.max(m.rss, rss, rssOf(pids));
      }
      m.ok += r.ok;
      m.errors += r.errors;
      m.secs += r.seconds;
      m.engine = r.engine;
      m.tputs.push(r.ok / r.seconds);
      if (r.quantiles) m.q.push(r.quantiles);
      else for (const l of r.latencies) m.lat.push(l);
    }
  }
  progressDone();
  for (const fr of fires.values()) await fr.close();
  const rows: Row[] = [];
  for (const t of targets) {
    const pids = await t.pids();
    const rr = rate.get(t.name)!;
    const mm = max.get(t.name)!;
    const rs = summarize(rr.lat);
    const ms = mm.q.length
      ? { p50: med(mm.q.map((q) => q.p50)), p90: med(mm.q.map((q) => q.p90)), p99: med(mm.q.map((q) => q.p99)), max: Math.max(...mm.q.map((q) => q.max)) }
      : summarize(mm.lat);
    rows.push({
      target: t.name,
      rate: { summary: rs, throughput: rr.ok / rr.secs, errors: rr.errors, cpuUsPerReq: pids.length ? (rr.cpu / Math.max(1, rr.ok)) * 1e6 : null, rssMB: pids.length ? rr.rss : null, sorted: Float64Array.from(rr.lat).sort() },
      max: { summary: { p50: ms.p50, p90: ms.p90, p99: ms.p99, max: ms.max }, throughput: mm.ok / mm.secs, errors: mm.errors, cpuUsPerReq: pids.length ? (mm.cpu / Math.max(1, mm.ok)) * 1e6 : null, rssMB: pids.length ? mm.rss : null, engine: mm.engine },
      idleRssMB: idle.get(t.name) ?? null,
      perRepeatMax: mm.tputs,
    });
  }
  return { scenario: s, rows };
}

const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

/** Runs another loadtest script of this directory and keeps its output (pub/sub, tracing). */
async function external(s: string, script: string, args: string[]): Promise<ScenarioResult> {
  progress(`[${s}] running loadtest/${script} ${args.join(' ')}`);
  const r = start(s, process.execPath, [join(ROOT, 'dist/loadtest', script), ...args]);
  const ticker = setInterval(() => {
    const last = r.out.trim().split('\n').pop() ?? '';
    progress(`[${s}] ${last.slice(0, 100)}`);
  }, 500);
  await new Promise<void>((res) => (r.child.exitCode !== null ? res() : r.child.once('exit', () => res())));
  clearInterval(ticker);
  progressDone();
  if (r.child.exitCode !== 0) return { scenario: s, rows: [], note: `failed (exit ${r.child.exitCode})`, raw: r.out };
  return { scenario: s, rows: [], raw: r.out.trim() };
}

// ---------------------------------------------------------------------------------------------
// Report

const f1 = (x: number | null | undefined, d = 2): string => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d));

function table(r: ScenarioResult, a: Args): string {
  if (r.rows.length === 0) return `### ${r.scenario}\n\n${r.note ? r.note + '\n\n' : ''}\`\`\`\n${r.raw ?? ''}\n\`\`\`\n`;
  const base = r.rows[0]!;
  const nginx = r.rows.find((x) => x.target === 'nginx');
  const bare = r.rows.find((x) => x.target === BARE || x.target === BARE_2);
  const lines = [
    `### ${r.scenario}`,
    '',
    `Fixed rate ${a.rate} req/s (latency corrected for coordinated omission; ms):`,
    '',
    '| target | p50 | p90 | p99 | max | added p50 | added p99 | req/s | errors | CPU µs/req | RSS MB |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of r.rows) {
    const s = row.rate.summary;
    lines.push(`| ${row.target} | ${f1(s.p50)} | ${f1(s.p90)} | ${f1(s.p99)} | ${f1(s.max)} | ${row === base ? '' : f1(s.p50 - base.rate.summary.p50)} | ${row === base ? '' : f1(s.p99 - base.rate.summary.p99)} | ${f1(row.rate.throughput, 0)} | ${row.rate.errors} | ${f1(row.rate.cpuUsPerReq, 0)} | ${f1(row.rate.rssMB, 0)} |`);
  }
  lines.push('', `Max throughput (${a.connections} connections, ${r.rows[0]!.max.engine}; latency in ms):`, '');
  lines.push(`| target | req/s | per repeat | vs ${base.target} | ${nginx ? 'vs nginx | ' : ''}${bare ? 'vs bare proxy | ' : ''}p50 | p90 | p99 | max | errors | CPU µs/req | RSS MB idle / load |`);
  lines.push(`|---|---:|---|---:|${nginx ? '---:|' : ''}${bare ? '---:|' : ''}---:|---:|---:|---:|---:|---:|---:|`);
  for (const row of r.rows) {
    const s = row.max.summary;
    lines.push(
      `| ${row.target} | ${f1(row.max.throughput, 0)} | ${row.perRepeatMax.map((x) => x.toFixed(0)).join(' ')} | ${f1(row.max.throughput / base.max.throughput)}× | ${nginx ? f1(row.max.throughput / nginx.max.throughput) + '× | ' : ''}${bare ? f1(row.max.throughput / bare.max.throughput) + '× | ' : ''}${f1(s.p50)} | ${f1(s.p90)} | ${f1(s.p99)} | ${f1(s.max)} | ${row.max.errors} | ${f1(row.max.cpuUsPerReq, 0)} | ${row.idleRssMB === null ? '-' : `${f1(row.idleRssMB, 0)} / ${f1(row.max.rssMB, 0)}`} |`,
    );
  }
  if (r.steal) lines.push('', `Machine: ${r.steal}.`);
  return lines.join('\n') + '\n';
}

function machine(): string {
  const c = cpus();
  return `${c.length} × ${c[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`;
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const fixture = new Fixture(a);
  const results: ScenarioResult[] = [];
  const startedAt = new Date();
  const onSignal = (): void => void fixture.close().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (const s of a.scenarios) {
      try {
        let r: ScenarioResult;
        if (s === 'publish-deliver') r = await external(s, 'pubsub.js', ['--broker', 'redis', '--messages', String(Math.max(1000, Math.round(a.rate * a.duration))), '--concurrency', String(Math.min(32, a.connections)), '--repeats', String(a.repeats)]);
        else if (s === 'tracing') r = await external(s, 'observability.js', ['--seconds', String(a.duration), '--rounds', String(a.repeats), '--concurrency', String(Math.min(32, a.connections))]);
        else {
          const steal = stealMeter();
          r = await measure(s, fixture, a);
          r.steal = steal();
        }
        results.push(r);
        console.log(table(r, a));
      } catch (err) {
        progressDone();
        const msg = (err as Error).message.split('\n').slice(0, 8).join('\n');
        console.log(`### ${s}\n\nfailed: ${msg}\n`);
        results.push({ scenario: s, rows: [], note: `failed: ${msg}` });
      }
    }
  } finally {
    await fixture.close();
  }
  const head = `bulwark loadtest ${startedAt.toISOString()} — ${a.scenarios.join(', ')}; rate ${a.rate} req/s, ${a.duration} s per step, ${a.connections} connections, ${a.repeats} interleaved repeats\nMachine: ${machine()}\n`;
  const summary = `${head}\n${results.map((r) => table(r, a)).join('\n')}`;
  mkdirSync(a.out, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const json = {
    startedAt: startedAt.toISOString(),
    machine: machine(),
    args: a,
    results: results.map((r) => ({ scenario: r.scenario, note: r.note, raw: r.raw, rows: r.rows.map((row) => ({ ...row, rate: { ...row.rate, sorted: undefined } })) })),
  };
  writeFileSync(join(a.out, `${stamp}.json`), JSON.stringify(json, null, 2));
  writeFileSync(join(a.out, `${stamp}.md`), summary);
  const series: PlotSeries[] = results.flatMap((r) => r.rows.map((row) => ({ scenario: r.scenario, target: row.target, sorted: row.rate.sorted })));
  let plot = '';
  if (series.length) {
    plot = join(a.out, `${stamp}.svg`);
    writeFileSync(plot, await latencySvg(series, `latency at ${a.rate} req/s (corrected), ${startedAt.toISOString().slice(0, 16)}`));
  }
  console.log(`---- paste-able summary (also in ${join(a.out, `${stamp}.md`)}) ----\n`);
  console.log(summary);
  console.log(`JSON: ${join(a.out, `${stamp}.json`)}${plot ? `\nPlot: ${plot}` : ''}`);
}

await main();
