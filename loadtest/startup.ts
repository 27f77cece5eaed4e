// Start-up time and idle memory of the sidecar: starts `bulwark sidecar` (and `bulwark run` with an
// app) N times per case, interleaved (A B C A B C) so drift on a shared machine cancels, and
// reports time to healthy (spawn → first `GET /v1.0/healthz` answered 204, polled every 5 ms)
// and RSS after an idle pause. The sidecar's CPU time until healthy (utime + stime from /proc) is
// printed too: on a shared machine it moves far less than the wall-clock time. `--profile` runs each case once more under `--cpu-prof` and prints
// where start-up time goes, per package (node internals are charged to the code that called them).
//
//   npm run build && node dist/loadtest/startup.js [--runs 5] [--idle 2] [--cases none,defaults,redis-tracing,run,help]
//                                                  [--profile] [--main dist/cli/main.js] [--base <other build>/dist/cli/main.js]
//
// `--base` adds the same cases for another build (e.g. the previous commit's), interleaved with
// this one's, for before/after figures measured under the same machine load.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { freePort } from '../cli/free-port.js';
import { summarize } from './latency.js';
import { CLI, REDIS_STATESTORE_YAML, cpuSeconds, rssMB, start, stop, stopAll, type Running } from './procs.js';

interface Case {
  name: string;
  what: string;
  /** Arguments after `node <main>`; none for `help`, which is timed to exit. */
  args(ports: { http: number; app: number }, dir: string): string[];
  /** Writes the resources the case needs into `dir` (its own temp folder). */
  prepare?(dir: string): void;
}

const APP = `require('node:http').createServer((req, res) => { res.writeHead(req.url === '/dapr/config' ? 404 : 200); res.end(); }).listen(Number(process.env.APP_PORT), '127.0.0.1');`;

const REDIS_TRACING = {
  'statestore.yaml': REDIS_STATESTORE_YAML,
  'config.yaml': `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: tracing
spec:
  tracing:
    samplingRate: "1"
    otel:
      endpointAddress: 127.0.0.1:4318
      isSecure: false
      protocol: http
`,
};

const common = (p: { http: number }, appId: string): string[] => [
  '--app-id', appId, '--dapr-http-port', String(p.http), '--dapr-grpc-port', '0', '--metrics-port', '0',
  '--dapr-internal-grpc-port', '0', '--log-level', 'warn',
];

const CASES: Record<string, Case> = {
  none: {
    name: 'none',
    what: '`sidecar`, an empty resources folder (no components)',
    prepare: (dir) => mkdirSync(join(dir, 'res')),
    args: (p, dir) => ['sidecar', ...common(p, 'startup-none'), '--resources-path', join(dir, 'res')],
  },
  defaults: {
    name: 'defaults',
    what: '`sidecar`, the embedded defaults (SQLite state, pub/sub, lock, configuration)',
    args: (p, dir) => ['sidecar', ...common(p, 'startup-defaults')],
  },
  'redis-tracing': {
    name: 'redis-tracing',
    what: '`sidecar`, a Redis state store + tracing (sampling 1, OTLP/HTTP exporter)',
    prepare: (dir) => {
      mkdirSync(join(dir, 'res'));
      writeFileSync(join(dir, 'res/statestore.yaml'), REDIS_TRACING['statestore.yaml']);
      writeFileSync(join(dir, 'config.yaml'), REDIS_TRACING['config.yaml']);
    },
    args: (p, dir) => ['sidecar', ...common(p, 'startup-redis'), '--resources-path', join(dir, 'res'), '--config', join(dir, 'config.yaml')],
  },
  run: {
    name: 'run',
    what: '`run` with a node HTTP app, embedded defaults (healthy includes the app channel)',
    prepare: (dir) => writeFileSync(join(dir, 'app.cjs'), APP),
    args: (p, dir) => ['run', ...common(p, 'startup-run'), '--app-port', String(p.app), '--', process.execPath, join(dir, 'app.cjs')],
  },
  help: {
    name: 'help',
    what: '`bulwark --help` (time to exit)',
    args: () => ['--help'],
  },
};

interface Args {
  runs: number;
  idleS: number;
  cases: string[];
  profile: boolean;
  main: string;
  base: string | undefined;
}

function parseArgs(argv: string[]): Args {
  const get = (n: string, d: string): string => {
    const i = argv.indexOf(`--${n}`);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : d;
  };
  const cases = get('cases', 'none,defaults,redis-tracing,run,help').split(',');
  for (const c of cases) if (!CASES[c]) throw new Error(`unknown case ${c}; one of: ${Object.keys(CASES).join(', ')}`);
  return { runs: Number(get('runs', '5')), idleS: Number(get('idle', '2')), cases, profile: argv.includes('--profile'), main: resolve(get('main', CLI)), base: argv.includes('--base') ? resolve(get('base', '')) : undefined };
}

interface Sample {
  readyMs: number;
  /** CPU time of the started process until healthy (10 ms resolution). */
  cpuMs: number;
  rssMB: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls healthz until 204; returns ms since `t0` (process.hrtime ns) or throws when the process exits. */
async function untilHealthy(r: Running, port: number, t0: bigint): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await request(`http://127.0.0.1:${port}/v1.0/healthz`, { reset: true, headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.dump();
      if (res.statusCode === 204) return Number(process.hrtime.bigint() - t0) / 1e6;
    } catch {
      // not listening yet
    }
    if (r.child.exitCode !== null) throw new Error(`${r.name} exited:\n${r.out}`);
    if (Date.now() > deadline) throw new Error(`${r.name}: not healthy after 60 s:\n${r.out}`);
    await sleep(5);
  }
}

async function once(c: Case, main: string, dir: string, idleS: number, extraNode: string[] = []): Promise<Sample> {
  const ports = { http: await freePort(), app: await freePort() };
  const env = { BULWARK_HOME: join(dir, 'home'), APP_PORT: String(ports.app) };
  const t0 = process.hrtime.bigint();
  const r = start(c.name, process.execPath, [...extraNode, main, ...c.args(ports, dir)], env);
  try {
    if (c.name === 'help') {
      await new Promise<void>((res) => (r.child.exitCode !== null ? res() : r.child.once('exit', () => res())));
      return { readyMs: Number(process.hrtime.bigint() - t0) / 1e6, cpuMs: NaN, rssMB: NaN };
    }
    const readyMs = await untilHealthy(r, ports.http, t0);
    // `bulwark run` hosts the sidecar in its own process (the app is its child): CPU and RSS of the spawned process.
    const cpuMs = cpuSeconds(r.child.pid!) * 1000;
    await sleep(idleS * 1000);
    return { readyMs, cpuMs, rssMB: rssMB(r.child.pid!) };
  } finally {
    await stop(r);
  }
}

/** Self time per package from a .cpuprofile; node internals and native frames go to their nearest caller with a file of ours or a package's. */
export function profileByPackage(profile: CpuProfile): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const owner = new Map<number, string>();
  const ownerOf = (id: number): string => {
    const known = owner.get(id);
    if (known !== undefined) return known;
    const n = byId.get(id)!;
    const label = labelOf(n.callFrame);
    const p = parent.get(id);
    const o = label ?? (p === undefined ? '(node start-up, gc, idle)' : ownerOf(p));
    owner.set(id, o);
    return o;
  };
  const out = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const o = ownerOf(profile.samples[i]!);
    out.set(o, (out.get(o) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  return out;
}

function labelOf(f: { url: string; functionName: string }): string | undefined {
  if (f.functionName === '(garbage collector)') return '(gc)';
  if (f.functionName === '(idle)') return '(idle: waiting for I/O)';
  if (f.functionName === '(program)') return '(program: V8 compiling, native code)';
  if (!f.url || f.url.startsWith('node:')) return undefined;
  const nm = f.url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = f.url.slice(nm + 14).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const m = /\/dist\/([^/]+)\//.exec(f.url);
  return m ? `bulwark ${m[1]}/` : f.url;
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { url: string; functionName: string }; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
}

async function profileCase(c: Case, main: string, dir: string): Promise<void> {
  const profDir = join(dir, 'prof');
  rmSync(profDir, { recursive: true, force: true });
  // The profile covers start to exit; stop right after healthy so it is mostly start-up.
  await once(c, main, dir, 0, ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-interval', '200']);
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return;
  const by = profileByPackage(JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile);
  const rows = [...by].filter(([k]) => !k.startsWith('(idle')).sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((s, [, v]) => s + v, 0);
  console.log(`\n### cpu profile, ${c.name} (start to healthy, then stop; ${total.toFixed(0)} ms on CPU)\n`);
  console.log('| where | ms |\n|---|---:|');
  for (const [k, v] of rows.slice(0, 15)) console.log(`| ${k} | ${v.toFixed(0)} |`);
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const root = mkdtempSync(join(tmpdir(), 'bulwark-startup-'));
  const dirs = new Map<string, string>();
  for (const name of a.cases) {
    const dir = join(root, name);
    mkdirSync(dir);
    CASES[name]!.prepare?.(dir);
    dirs.set(name, dir);
  }
  const builds = a.base ? [{ label: 'base', main: a.base }, { label: 'this', main: a.main }] : [{ label: 'this', main: a.main }];
  const key = (build: string, name: string): string => `${build}\t${name}`;
  const samples = new Map<string, Sample[]>();
  const failures = new Map<string, number>();
  try {
    for (let i = 0; i < a.runs; i++) {
      for (const name of a.cases) {
        for (const b of i % 2 === 0 ? builds : [...builds].reverse()) {
          process.stderr.write(`run ${i + 1}/${a.runs}: ${name}${a.base ? ` (${b.label})` : ''}\n`);
          // One start that fails (a port taken meanwhile on a shared machine) is counted, not fatal.
          const s = await once(CASES[name]!, b.main, dirs.get(name)!, a.idleS).catch((err: Error) => {
            process.stderr.write(`  failed: ${err.message.split('\n')[0]}\n`);
            return undefined;
          });
          if (s) samples.set(key(b.label, name), [...(samples.get(key(b.label, name)) ?? []), s]);
          else failures.set(key(b.label, name), (failures.get(key(b.label, name)) ?? 0) + 1);
        }
      }
    }
    console.log(`\n${builds.map((b) => `${b.label}: ${b.main}`).join('; ')}\n${a.runs} starts per case, interleaved; RSS after ${a.idleS} s idle\n`);
    console.log(`| case |${a.base ? ' build |' : ''} healthy p50 ms | max ms | CPU to healthy p50 ms | idle RSS p50 MB | max MB |\n|---|${a.base ? '---|' : ''}---:|---:|---:|---:|---:|`);
    for (const name of a.cases) {
      for (const b of builds) {
        const s = samples.get(key(b.label, name)) ?? [];
        const failed = failures.get(key(b.label, name));
        const t = summarize(s.map((x) => x.readyMs));
        const rss = s.map((x) => x.rssMB).filter((x) => !Number.isNaN(x));
        const m = rss.length ? summarize(rss) : undefined;
        const cpu = s.map((x) => x.cpuMs).filter((x) => !Number.isNaN(x));
        const c = cpu.length ? summarize(cpu) : undefined;
        console.log(`| ${CASES[name]!.what}${failed ? ` (${failed} failed starts)` : ''} |${a.base ? ` ${b.label} |` : ''} ${t.p50.toFixed(0)} | ${t.max.toFixed(0)} | ${c ? c.p50.toFixed(0) : '–'} | ${m ? m.p50.toFixed(1) : '–'} | ${m ? m.max.toFixed(1) : '–'} |`);
      }
    }
    if (a.profile) for (const name of a.cases) if (name !== 'help') await profileCase(CASES[name]!, a.main, dirs.get(name)!);
  } finally {
    await stopAll();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  void stopAll().then(() => process.exit(1));
});
