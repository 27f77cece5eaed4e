// Observability benchmark (not a test): what tracing and metrics cost on the request path, in the
// same run. One app, several sidecars in front of it that differ only in their Configuration:
//
//   off       samplingRate "0", metrics off       (no trace or metrics layers at all)
//   metrics   samplingRate "0", metrics on
//   rate-1e-4 default sampling (spans created, one in 10,000 sampled), metrics on
//   sampled   samplingRate "1", metrics on, every span exported over OTLP/HTTP to a sink
//
// Two paths per sidecar: fronting (client -> public port -> app) and the invoke API
// (client -> /v1.0/invoke/<self>/method/x -> app). Variants run in rotating order, one round
// after another, so drift and position on a shared machine hit them alike; throughput is summed over rounds. Because throughput on a
// busy machine is noisy, the sidecar's own CPU time per request (from /proc) is reported too:
// it is what tracing and metrics actually add.
//
// `--base <dist/cli/main.js of another build>` runs every variant on that build as well,
// interleaved with this one (the order of the two flips every round), for a before/after in one
// run; `--variants off,sampled` and `--paths front,invoke` pick what runs.
//
//   npm run build && node dist/loadtest/observability.js [--seconds 4] [--rounds 3] [--concurrency 32]
//     [--base /tmp/before/dist/cli/main.js] [--variants off,metrics,rate-1e-4,sampled] [--paths front,invoke]
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Pool } from 'undici';
import { CLI, cpuSeconds, start, stealMeter, waitEntry, waitFor, type Running } from './procs.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

function textArg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const APP = `require('node:http').createServer((req, res) => { req.resume(); req.on('end', () => res.end('ok')); })
  .listen(0, '127.0.0.1', function () { console.log('APP-PORT ' + this.address().port); });`;

const SINK = `let n = 0; process.on('SIGUSR2', () => console.log('SINK-BYTES ' + n));
require('node:http').createServer((req, res) => { req.on('data', (c) => (n += c.length)); req.on('end', () => res.end('{}')); })
  .listen(0, '127.0.0.1', function () { console.log('SINK-PORT ' + this.address().port); });`;

interface Variant {
  name: string;
  /** 'this' or 'base' (--base). */
  build: string;
  cli: string;
  tracing: string;
  metrics: boolean;
  api?: string;
  front?: string;
  proc?: Running;
  done: { front: number; api: number };
  /** Sidecar CPU seconds spent while each path was driven. */
  cpu: { front: number; api: number };
}

async function drive(origin: string, path: string, seconds: number, concurrency: number): Promise<number> {
  const pool = new Pool(origin, { connections: concurrency, pipelining: 1 });
  let count = 0;
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        try {
          const r = await pool.request({ method: 'GET', path });
          await r.body.dump();
          if (r.statusCode === 200) count++;
          else errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  await pool.close();
  if (errors > 0) console.warn(`  ${errors} failed requests on ${origin}${path}`);
  return count;
}

async function main(): Promise<void> {
  const seconds = arg('seconds', 4);
  const rounds = arg('rounds', 3);
  const concurrency = arg('concurrency', 32);
  // The OTLP sink, in its own process so that receiving exports does not slow the driver here:
  // accepts and discards them, and reports the bytes it got when asked (SIGUSR2).
  const sink = start('sink', process.execPath, ['-e', SINK]);
  const sinkPort = Number((await waitFor(sink, /SINK-PORT (\d+)/))[1]);

  const app = start('app', process.execPath, ['-e', APP]);
  const appPort = Number((await waitFor(app, /APP-PORT (\d+)/))[1]);

  const specs = [
    { name: 'off', tracing: '"0"', metrics: false },
    { name: 'metrics', tracing: '"0"', metrics: true },
    { name: 'rate-1e-4', tracing: '""', metrics: true },
    { name: 'sampled', tracing: '"1"', metrics: true },
  ];
  const only = textArg('variants')?.split(',');
  const paths = new Set(textArg('paths')?.split(',') ?? ['front', 'invoke']);
  const baseCli = textArg('base');
  const builds: Array<[string, string]> = [['this', CLI], ...(baseCli ? [['base', resolve(baseCli)] as [string, string]] : [])];
  const variants: Variant[] = [];
  for (const spec of specs) {
    if (only && !only.includes(spec.name)) continue;
    for (const [build, cli] of builds) variants.push({ ...spec, build, cli, done: { front: 0, api: 0 }, cpu: { front: 0, api: 0 } });
  }
  const id = (v: Variant): string => `${v.build}-${v.name}`;
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-obs-bench-'));
  try {
    // Started last to first: the sidecar started first has measured faster here, so the
    // baseline (`off`) does not get that advantage.
    for (const v of [...variants].reverse()) {
      const home = join(dir, id(v));
      mkdirSync(home, { recursive: true });
      const cfg = join(home, 'config.yaml');
      const otel = v.name === 'sampled' ? `\n    otel:\n      endpointAddress: "127.0.0.1:${sinkPort}"\n      isSecure: false\n      protocol: http` : '';
      writeFileSync(cfg, `apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: bench\nspec:\n  tracing:\n    samplingRate: ${v.tracing}${otel}\n  metric:\n    enabled: ${v.metrics}\n`);
      mkdirSync(join(home, 'none'), { recursive: true });
      v.proc = start(`sidecar ${id(v)}`, process.execPath, [v.cli, 'sidecar', '--app-id', `bench-${id(v)}`, '--app-port', String(appPort), '--dapr-http-port', '0', '--metrics-port', '0', '--dapr-grpc-port', '0', '--public-port', '0', '--config', cfg, '--log-level', 'warn', '--resources-path', join(home, 'none')], { BULWARK_HOME: home });
    }
    for (const v of variants) {
      // With --log-level warn the listening lines are not printed; read the registry entry instead.
      const entry = await waitEntry(join(dir, id(v)), `bench-${id(v)}`, v.proc!);
      v.api = `http://127.0.0.1:${entry.httpPort}`;
      v.front = `http://127.0.0.1:${(entry as { publicPort?: number }).publicPort}`;
    }
    const invokePath = (v: Variant): string => `/v1.0/invoke/bench-${id(v)}/method/x`;
    // Warm-up: JIT, pools.
    for (const v of variants) {
      if (paths.has('front')) await drive(v.front!, '/x', 1, concurrency);
      if (paths.has('invoke')) await drive(v.api!, invokePath(v), 1, concurrency);
    }
    const steal = stealMeter();
    for (let r = 0; r < rounds; r++) {
      // Each round starts one variant later (rounds a multiple of the variant count give every
      // variant every position once); the two builds of a variant back to back, their order
      // flipped every round.
      const groups: Variant[][] = [];
      for (let k = 0; k < variants.length; k += builds.length) {
        const group = variants.slice(k, k + builds.length);
        groups.push(r % 2 === 0 ? group : group.reverse());
      }
      const order = [...groups.slice(r % groups.length), ...groups.slice(0, r % groups.length)].flat();
      for (const v of order) {
        const pid = v.proc!.child.pid!;
        if (paths.has('front')) {
          const c0 = cpuSeconds(pid);
          v.done.front += await drive(v.front!, '/x', seconds, concurrency);
          v.cpu.front += cpuSeconds(pid) - c0;
        }
        if (paths.has('invoke')) {
          const c0 = cpuSeconds(pid);
          v.done.api += await drive(v.api!, invokePath(v), seconds, concurrency);
          v.cpu.api += cpuSeconds(pid) - c0;
        }
      }
    }
    const stolen = steal();
    const total = rounds * seconds;
    const pct = (x: number, b: number | undefined): string => (b && x ? `${(((x - b) / b) * 100).toFixed(1)}%` : '-').padStart(7);
    const us = (cpu: number, n: number): number => (cpu / Math.max(1, n)) * 1e6;
    const perSecond = (n: number): string => (n / total).toFixed(0);
    const cpuText = (cpu: number, n: number): string => (n > 0 ? us(cpu, n).toFixed(1) : '-');
    console.log(`\nobservability cost, ${rounds} rounds x ${seconds}s per variant and path, concurrency ${concurrency}`);
    for (const [build, cli] of builds) {
      const mine = variants.filter((v) => v.build === build);
      const off = mine.find((v) => v.name === 'off');
      if (builds.length > 1) console.log(`\n${build}: ${cli}`);
      console.log('variant      fronting req/s   vs off   CPU us/req   vs off | invoke API req/s   vs off   CPU us/req   vs off');
      for (const v of mine) {
        const fu = us(v.cpu.front, v.done.front);
        const au = us(v.cpu.api, v.done.api);
        console.log(
          `${v.name.padEnd(12)} ${perSecond(v.done.front).padStart(14)}   ${pct(v.done.front, off?.done.front)}   ${cpuText(v.cpu.front, v.done.front).padStart(10)}   ${pct(fu, off && us(off.cpu.front, off.done.front))} | ` +
            `${perSecond(v.done.api).padStart(16)}   ${pct(v.done.api, off?.done.api)}   ${cpuText(v.cpu.api, v.done.api).padStart(10)}   ${pct(au, off && us(off.cpu.api, off.done.api))}`,
        );
      }
    }
    if (builds.length > 1) {
      console.log('\nthis build against base (CPU us/req and req/s: this / base)');
      console.log('variant      fronting CPU          req/s | invoke CPU            req/s');
      for (let k = 0; k < variants.length; k += 2) {
        const [t, b] = [variants[k]!, variants[k + 1]!];
        const cell = (cpuT: number, nT: number, cpuB: number, nB: number): string =>
          `${cpuText(cpuT, nT)} / ${cpuText(cpuB, nB)}`.padEnd(15) + `${pct(nT, nB)}`;
        console.log(`${t.name.padEnd(12)} ${cell(t.cpu.front, t.done.front, b.cpu.front, b.done.front)} | ${cell(t.cpu.api, t.done.api, b.cpu.api, b.done.api)}`);
      }
    }
    sink.child.kill('SIGUSR2');
    console.log(`OTLP bytes received by the sink: ${(await waitFor(sink, /SINK-BYTES (\d+)/))[1]}`);
    console.log(stolen);
  } finally {
    for (const v of variants) v.proc?.child.kill('SIGTERM');
    app.child.kill('SIGTERM');
    sink.child.kill('SIGTERM');
  }
}

await main();
