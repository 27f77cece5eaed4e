// Actor benchmark (not a test): actor method calls on the hosting sidecar (local owner) and
// through a second sidecar (remote owner, one extra hop over the internal listener) against a
// plain service invocation of the same app, same run, interleaved (A B C A B C).
//
//   npm run build && node dist/loadtest/actors.js [--seconds 5] [--concurrency 32] [--ids 1000] [--repeats 2]
//
// Calls spread over `--ids` actor ids, so the per-actor turn lock measures its cost, not queueing.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { freePort } from '../cli/free-port.js';
import { closedLoop, type Fire } from './generator.js';
import { summarize } from './latency.js';
import { CLI, start, stopAll, waitFor } from './procs.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};

const APP = `const http = require('node:http');
http.createServer((req, res) => {
  if (req.url === '/dapr/config') { res.writeHead(200, {'content-type': 'application/json'}); res.end(JSON.stringify({ entities: ['Bench'] })); return; }
  req.resume();
  req.on('end', () => { res.writeHead(200, {'content-type': 'application/json'}); res.end('{"ok":true}'); });
}).listen(Number(process.env.APP_PORT), '127.0.0.1');`;

async function main(): Promise<void> {
  const seconds = arg('seconds', 5);
  const concurrency = arg('concurrency', 32);
  const ids = arg('ids', 1000);
  const repeats = arg('repeats', 2);
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-actors-bench-'));
  const app = join(dir, 'app.cjs');
  writeFileSync(app, APP);
  const res = join(dir, 'res');
  const empty = join(dir, 'empty');
  for (const d of [res, empty]) await import('node:fs').then((fs) => fs.mkdirSync(d));
  writeFileSync(
    join(res, 'store.yaml'),
    `apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: actorstore\nspec:\n  type: state.in-memory\n  version: v1\n  metadata:\n  - name: actorStateStore\n    value: "true"\n`,
  );
  const env = { BULWARK_HOME: join(dir, 'home') };
  const hostPort = await freePort();
  const clientPort = await freePort();
  const host = start('host', process.execPath, [CLI, 'run', '--app-id', 'bench', '--app-port', '0', '--dapr-http-port', String(hostPort), '--metrics-port', '0', '--dapr-grpc-port', '0', '--log-level', 'info', '--resources-path', res, '--', process.execPath, app], env);
  await waitFor(host, /actors: joined placement/);
  const client = start('client', process.execPath, [CLI, 'sidecar', '--app-id', 'bench-client', '--dapr-http-port', String(clientPort), '--metrics-port', '0', '--dapr-grpc-port', '0', '--log-level', 'info', '--resources-path', empty], env);
  await waitFor(client, /HTTP API listening/);
  await new Promise((r) => setTimeout(r, 1000));

  const pools = [new Pool(`http://127.0.0.1:${hostPort}`, { connections: concurrency }), new Pool(`http://127.0.0.1:${clientPort}`, { connections: concurrency })];
  let n = 0;
  const fire = (pool: Pool, path: (i: number) => string): Fire => async () => {
    const r = await pool.request({ method: 'POST', path: path(n++ % ids), body: '{"x":1}', headers: { 'content-type': 'application/json' } });
    await r.body.dump();
    return r.statusCode === 200;
  };
  const scenarios: Array<[string, Fire]> = [
    ['invoke (plain service invocation)', fire(pools[0]!, () => '/v1.0/invoke/bench/method/ping')],
    ['actor call, local owner', fire(pools[0]!, (i) => `/v1.0/actors/Bench/a-${i}/method/ping`)],
    ['invoke through 2 sidecars', fire(pools[1]!, () => '/v1.0/invoke/bench/method/ping')],
    ['actor call, remote owner (2 sidecars)', fire(pools[1]!, (i) => `/v1.0/actors/Bench/a-${i}/method/ping`)],
  ];
  for (const [, f] of scenarios) await closedLoop(f, concurrency, 1); // warm-up (activations, pools)
  const results = new Map<string, { ok: number; errors: number; seconds: number; lat: number[] }>();
  for (let r = 0; r < repeats; r++) {
    for (const [name, f] of scenarios) {
      const out = await closedLoop(f, concurrency, seconds);
      const acc = results.get(name) ?? { ok: 0, errors: 0, seconds: 0, lat: [] };
      acc.ok += out.ok;
      acc.errors += out.errors;
      acc.seconds += out.seconds;
      acc.lat.push(...out.latencies);
      results.set(name, acc);
    }
  }
  const base = results.get(scenarios[0]![0])!;
  const baseRate = base.ok / base.seconds;
  console.log(`actors benchmark: ${concurrency} concurrent, ${seconds}s x ${repeats}, ${ids} ids`);
  console.log('scenario                                   req/s     p50 ms   p99 ms   errors  vs invoke');
  for (const [name, acc] of results) {
    const s = summarize(Float64Array.from(acc.lat));
    const rate = acc.ok / acc.seconds;
    console.log(`${name.padEnd(40)} ${rate.toFixed(0).padStart(7)} ${s.p50.toFixed(2).padStart(9)} ${s.p99.toFixed(2).padStart(8)} ${String(acc.errors).padStart(8)}  ${(rate / baseRate).toFixed(2)}x`);
  }
  await Promise.all(pools.map((p) => p.close()));
}

main()
  .catch((err: Error) => {
    console.error(err.message);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
