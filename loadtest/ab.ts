// A/B of two builds of the sidecar on one path, interleaved (A B A B ...), for optimisation
// notes: req/s at max load (wrk, or the in-process closed loop) and, less noisy on a shared
// machine, the sidecars' CPU time per request; RSS of the sidecars idle (right after start) and
// the largest sampled under load.
//
//   cp -r dist /tmp/base/dist && ln -s $PWD/node_modules /tmp/base/node_modules   # the "before"
//   node dist/loadtest/ab.js --base /tmp/base/dist/cli/main.js [--path front|invoke|state-get] [--rounds 4] [--duration 3]
//       [--rate 1000]                 each round also runs each side at a fixed rate: added latency
//                                     p50/p99 (the median over rounds), CPU per request at that rate
//       [--a-flags '--x' --b-flags '--y']  node flags for one side (V8 settings on the same build)
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedLoop, findWrk, fixedRate, httpFire, wrkRun, type HttpRequestSpec } from './generator.js';
import { quantile } from './latency.js';
import { CLI, REDIS_STATESTORE_YAML, cpuSeconds, rssMB, start, stealMeter, stopAll, waitEntry, waitFor } from './procs.js';

const get = (n: string, d: string): string => {
  const i = process.argv.indexOf(`--${n}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};
const base = get('base', '');
const path = get('path', 'front');
const rounds = Number(get('rounds', '4'));
const duration = Number(get('duration', '3'));
const connections = Number(get('connections', '50'));
const rate = Number(get('rate', '0'));
const nodeFlags = (side: 'a' | 'b'): string[] => get(`${side}-flags`, '').split(/\s+/).filter(Boolean);
if (!base) throw new Error('--base <other build>/dist/cli/main.js');

const dir = mkdtempSync(join(tmpdir(), 'bulwark-ab-'));
const res = join(dir, 'resources');
mkdirSync(res);
writeFileSync(join(res, 'r.yaml'), `apiVersion: dapr.io/v1alpha1\nkind: Resiliency\nmetadata:\n  name: ab\nspec:\n  policies:\n    timeouts:\n      general: 10s\n    retries:\n      quick:\n        policy: constant\n        duration: 10ms\n        maxRetries: 2\n  targets:\n    apps:\n      ab-app:\n        timeout: general\n        retry: quick\n`);
writeFileSync(join(res, 's.yaml'), REDIS_STATESTORE_YAML);
writeFileSync(join(dir, 'config.yaml'), `apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: ab\nspec:\n  tracing:\n    samplingRate: "0"\n  metric:\n    enabled: true\n`);
const app = start('app', process.execPath, ['-e', `require('node:http').createServer((q, s) => { q.resume(); q.on('end', () => { s.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }); s.end('ok'); }); }).listen(0, '127.0.0.1', function () { console.log('APP-PORT ' + this.address().port); });`]);
const appPort = Number((await waitFor(app, /APP-PORT (\d+)/))[1]);

interface Side { name: string; origin: string; pids: number[]; req: HttpRequestSpec; cpu: number; ok: number; secs: number; tput: number[]; idleRss: number; maxRss: number; p50: number[]; p99: number[]; rateCpu: number; rateOk: number }

const rssOf = (s: Side): number => s.pids.reduce((a, p) => a + rssMB(p), 0);

/** A side with nothing measured yet. */
const fresh = (name: string, origin: string, pids: number[], req: HttpRequestSpec, idleRss: number): Side =>
  ({ name, origin, pids, req, cpu: 0, ok: 0, secs: 0, tput: [], idleRss, maxRss: 0, p50: [], p99: [], rateCpu: 0, rateOk: 0 });

async function side(name: string, cli: string, flags: string[]): Promise<Side> {
  const home = join(dir, name);
  mkdirSync(home);
  const common = ['--dapr-http-port', '0', '--dapr-grpc-port', '0', '--metrics-port', '0', '--public-port', '0', '--resources-path', res, '--config', join(dir, 'config.yaml'), '--log-level', 'warn'];
  const callee = start(`${name} callee`, process.execPath, [...flags, cli, 'sidecar', '--app-id', 'ab-app', '--app-port', String(appPort), ...common], { BULWARK_HOME: home });
  const ce = await waitEntry(home, 'ab-app', callee);
  const pids = [callee.child.pid!];
  let origin = `http://127.0.0.1:${ce.publicPort}`;
  let req: HttpRequestSpec = { method: 'GET', path: '/x', expect: 200 };
  if (path === 'invoke') {
    const caller = start(`${name} caller`, process.execPath, [...flags, cli, 'sidecar', '--app-id', 'ab-caller', ...common], { BULWARK_HOME: home });
    const e = await waitEntry(home, 'ab-caller', caller);
    pids.push(caller.child.pid!);
    origin = `http://127.0.0.1:${e.httpPort}`;
    req = { method: 'GET', path: '/v1.0/invoke/ab-app/method/x', expect: 200 };
  } else if (path === 'state-get') {
    origin = `http://127.0.0.1:${ce.httpPort}`;
    await fetch(`${origin}/v1.0/state/statestore`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ key: 'ab', value: { n: 1 } }]) });
    req = { method: 'GET', path: '/v1.0/state/statestore/ab', expect: 200 };
  }
  const idleRss = pids.reduce((a, p) => a + rssMB(p), 0);
  return fresh(name, origin, pids, req, idleRss);
}

try {
  // Start order matters on a busy machine (measured: the first sidecar started ran faster with
  // identical code), so the sides are started alternately by round parity of --seed and both
  // orders should be run; see README.
  const reverse = process.argv.includes('--b-first');
  const sides = reverse ? [await side('B-new', CLI, nodeFlags('b')), await side('A-base', base, nodeFlags('a'))].reverse() : [await side('A-base', base, nodeFlags('a')), await side('B-new', CLI, nodeFlags('b'))];
  const wrk = await findWrk();
  for (const s of sides) {
    const h = httpFire(s.origin, s.req, 16);
    await closedLoop(h.fire, 16, 3);
    await h.close();
  }
  // The direct row of the fixed-rate phase: "added" latency is a side's minus this, same round.
  const direct = fresh('direct', `http://127.0.0.1:${appPort}`, [], { method: 'GET', path: '/x', expect: 200 }, 0);
  const steal = stealMeter();
  for (let r = 0; r < rounds; r++) {
    if (rate > 0) {
      for (const s of r % 2 === 0 ? [direct, ...sides] : [direct, ...[...sides].reverse()]) {
        const h = httpFire(s.origin, s.req, connections);
        const c0 = s.pids.reduce((a, p) => a + cpuSeconds(p), 0);
        const out = await fixedRate(h.fire, rate, duration);
        s.rateCpu += s.pids.reduce((a, p) => a + cpuSeconds(p), 0) - c0;
        s.rateOk += out.ok;
        await h.close();
        const sorted = out.latencies.sort();
        s.p50.push(quantile(sorted, 0.5));
        s.p99.push(quantile(sorted, 0.99));
        if (s !== direct) process.stderr.write(`round ${r + 1}/${rounds} ${s.name} at ${rate} req/s: added p50 ${(s.p50.at(-1)! - direct.p50.at(-1)!).toFixed(2)} ms, p99 ${(s.p99.at(-1)! - direct.p99.at(-1)!).toFixed(2)} ms\n`);
      }
    }
    for (const s of r % 2 === 0 ? sides : [...sides].reverse()) {
      const c0 = s.pids.reduce((a, p) => a + cpuSeconds(p), 0);
      const sampler = setInterval(() => (s.maxRss = Math.max(s.maxRss, rssOf(s))), 200);
      const out = wrk ? await wrkRun(wrk, s.origin + s.req.path, s.req, connections, duration, join(dir, 'ab.lua')) : await (async () => {
        const h = httpFire(s.origin, s.req, connections);
        const x = await closedLoop(h.fire, connections, duration);
        await h.close();
        return x;
      })();
      clearInterval(sampler);
      s.maxRss = Math.max(s.maxRss, rssOf(s));
      s.cpu += s.pids.reduce((a, p) => a + cpuSeconds(p), 0) - c0;
      s.ok += out.ok;
      s.secs += out.seconds;
      s.tput.push(out.ok / out.seconds);
      if (out.errors) console.log(`  ${s.name}: ${out.errors} errors`);
      process.stderr.write(`round ${r + 1}/${rounds} ${s.name} ${(out.ok / out.seconds).toFixed(0)} req/s\n`);
    }
  }
  const [a, b] = sides as [Side, Side];
  const us = (s: Side): number => (s.cpu / s.ok) * 1e6;
  console.log(`\n${path}: ${rounds} interleaved rounds x ${duration}s, ${connections} connections (${wrk ? 'wrk' : 'node closed loop'})`);
  for (const s of sides) console.log(`${s.name.padEnd(8)} ${(s.ok / s.secs).toFixed(0).padStart(7)} req/s  [${s.tput.map((x) => x.toFixed(0)).join(' ')}]  sidecar CPU ${us(s).toFixed(0)} µs/req  RSS ${s.idleRss.toFixed(0)} MB idle / ${s.maxRss.toFixed(0)} MB load`);
  if (rate > 0) {
    const med = (xs: number[]): number => quantile([...xs].sort((x, y) => x - y), 0.5);
    const added = (s: Side, k: 'p50' | 'p99'): number[] => s[k].map((x, i) => x - direct[k][i]!);
    for (const s of sides) console.log(`${s.name.padEnd(8)} at ${rate} req/s: added p50 ${med(added(s, 'p50')).toFixed(2)} ms, p99 ${med(added(s, 'p99')).toFixed(2)} ms (median of ${rounds}; p99 per round [${added(s, 'p99').map((x) => x.toFixed(2)).join(' ')}])  sidecar CPU ${((s.rateCpu / s.rateOk) * 1e6).toFixed(0)} µs/req`);
  }
  console.log(`B/A: throughput ${((b.ok / b.secs) / (a.ok / a.secs)).toFixed(2)}x, CPU per request ${(us(b) / us(a)).toFixed(2)}x; ${steal()}`);
} finally {
  await stopAll();
}
