// The resiliency policy's own cost per call, in process, without sockets: what the invoke path
// adds around one request (lookup, metrics, the runner, the caller watch, the attempt's signal
// as undici uses it). The machine's noise hits both builds alike because they run interleaved
// in one process. Compares this build with another (`--base <other>/dist`):
//
//   node dist/loadtest/policy.js --base /tmp/base/dist [--calls 200000] [--rounds 6] [--floor]
//
// `--floor` adds a row for the same call with no Resiliency at all (what the wrapper costs alone).
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const get = (n: string, d: string): string => {
  const i = process.argv.indexOf(`--${n}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};
const calls = Number(get('calls', '200000'));
const rounds = Number(get('rounds', '6'));
const here = join(fileURLToPath(import.meta.url), '../..');
const builds: Array<[string, string]> = [['this', here]];
if (get('base', '')) builds.unshift(['base', get('base', '')]);

const SPEC = {
  policies: { timeouts: { general: '10s' }, retries: { quick: { policy: 'constant', duration: '10ms', maxRetries: 2 } } },
  targets: { apps: { 'ab-app': { timeout: 'general', retry: 'quick' } } },
};
const quiet: import('../core/component.js').Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

interface Build {
  name: string;
  run(): Promise<unknown>;
  ns: number[];
}

async function load(name: string, dist: string, withPolicy = true): Promise<Build> {
  const { parseResiliency } = (await import(join(dist, 'policies/spec.js'))) as typeof import('../policies/spec.js');
  const { ResiliencyProvider } = (await import(join(dist, 'policies/provider.js'))) as typeof import('../policies/provider.js');
  const { ResiliencyMetrics } = (await import(join(dist, 'policies/metrics.js'))) as typeof import('../policies/metrics.js');
  const { invokeUnderPolicy } = (await import(join(dist, 'proxy/invoke/resilient.js'))) as typeof import('../proxy/invoke/resilient.js');
  const spec = parseResiliency({ kind: 'Resiliency', name: 'ab', spec: SPEC, scopes: [], origin: { file: 'ab.yaml', doc: 1 } });
  const provider = new ResiliencyProvider({ appId: 'ab-app', logger: quiet, metrics: new ResiliencyMetrics('ab-app'), componentType: () => undefined }, withPolicy ? [spec] : []);
  const response = { statusCode: 200, headers: {}, body: { dump: () => Promise.resolve() } };
  const listener = (): void => undefined;
  // As undici does with a request's signal: listen while the request runs.
  const upstream = async (_body: unknown, signal: AbortSignal | undefined): Promise<typeof response> => {
    signal?.addEventListener('abort', listener, { once: true });
    await Promise.resolve();
    signal?.removeEventListener('abort', listener);
    return response;
  };
  const req = { headers: {} };
  return {
    name,
    ns: [],
    run: () => {
      const res = Object.assign(new EventEmitter(), { writableFinished: false });
      const ex = { req, res, path: '/x' } as unknown as import('../core/http.js').Exchange;
      return invokeUnderPolicy(provider.app('ab-app', '/x'), ex, 'ab-app', upstream as never);
    },
  };
}

const all: Build[] = [];
for (const [name, dist] of builds) all.push(await load(name, dist));
// The floor: the same call through this build with no Resiliency at all.
if (process.argv.includes('--floor')) all.push(await load('none', here, false));
for (let r = 0; r < rounds; r++) {
  for (const b of r % 2 === 0 ? all : [...all].reverse()) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) await b.run();
    b.ns.push(Number(process.hrtime.bigint() - t0) / calls);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`policy cost per invocation (timeout 10s + constant retry x2), ${rounds} interleaved rounds x ${calls} calls`);
for (const b of all) console.log(`${b.name.padEnd(5)} median ${median(b.ns).toFixed(0).padStart(6)} ns/call  [${b.ns.map((x) => x.toFixed(0)).join(' ')}]`);
const [base, mine] = all;
if (base?.name === 'base' && mine) console.log(`this/base: ${(median(mine.ns) / median(base.ns)).toFixed(2)}x`);
