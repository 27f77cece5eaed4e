// Resiliency on components, end to end: the component-outbound policy around a real Redis state
// store (reached through a TCP proxy the test can make hang), and the component-inbound policy
// around pub/sub deliveries to the scriptable flaky app.
import { createServer, connect, type Socket } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, ROOT, startProcess, startSidecar, tempDir, writeFolder, type SidecarProc } from '../helpers/processes.js';
import { serviceAvailable } from '../helpers/services.js';

const FIXTURE = join(ROOT, 'test/integration/fixtures/flaky-app.mjs');

function resiliency(name: string, spec: string): string {
  return `apiVersion: dapr.io/v1alpha1\nkind: Resiliency\nmetadata:\n  name: ${name}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
}

async function metrics(sc: SidecarProc): Promise<string> {
  const dir = join(sc.home, 'registry');
  const entry = JSON.parse(readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.json'))!), 'utf8')) as { metricsPort: number };
  return (await fetch(`http://127.0.0.1:${entry.metricsPort}/metrics`)).text();
}

function series(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    const have = Object.fromEntries([...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/**
 * A TCP proxy in front of Redis that counts script calls (the state store reads and writes
 * through EVALSHA) and can fail every command with a Redis error ("fail") or swallow traffic
 * ("hang").
 */
class RedisGate {
  port = 0;
  scripts = 0;
  private mode: 'pass' | 'fail' | 'hang' = 'pass';
  private readonly clients = new Set<Socket>();
  private readonly server = createServer((client) => {
    this.clients.add(client);
    const upstream = connect({ host: '127.0.0.1', port: 6379 });
    client.on('data', (d: Buffer) => {
      const text = d.toString('latin1');
      this.scripts += (text.match(/\r\n(evalsha|eval)\r\n/gi) ?? []).length;
      if (this.mode === 'pass') upstream.write(d);
      else if (this.mode === 'fail') {
        const commands = (text.match(/\*\d+\r\n\$\d+\r\n[A-Za-z]+\r\n/g) ?? []).length;
        client.write('-ERR injected failure\r\n'.repeat(commands));
      }
    });
    upstream.on('data', (d: Buffer) => client.write(d));
    const close = (): void => {
      this.clients.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
  }

  fail(): void {
    this.mode = 'fail';
  }

  hang(): void {
    this.mode = 'hang';
  }

  /** Passes traffic again; connections that swallowed commands are dropped so the client starts clean. */
  pass(): void {
    this.mode = 'pass';
    for (const c of this.clients) c.destroy();
  }

  close(): void {
    this.pass();
    this.server.close();
  }
}

const hasRedis = await serviceAvailable('redis');

describe.skipIf(!hasRedis)('component outbound: a Redis state store', () => {
  const gate = new RedisGate();
  let sc: SidecarProc;
  beforeAll(async () => {
    await gate.start();
    const dir = writeFolder({
      'store.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: flakystore
spec:
  type: state.redis
  version: v1
  metadata:
    - name: redisHost
      value: 127.0.0.1:${gate.port}
    - name: keyPrefix
      value: none
`,
      'resiliency.yaml': resiliency('store-policies', `
policies:
  timeouts: { fast: 200ms }
  retries: { twice: { policy: constant, duration: 20ms, maxRetries: 2 } }
  circuitBreakers: { storecb: { maxRequests: 1, timeout: 1s, trip: consecutiveFailures >= 6 } }
targets:
  components:
    flakystore:
      outbound: { timeout: fast, retry: twice, circuitBreaker: storecb }
`),
    }, tempDir('bulwark-res-'));
    sc = await startSidecar({ appId: 'storeuser', args: ['--resources-path', dir] });
    return () => gate.close();
  });

  it('retries a failing store, times out a hanging one, opens the breaker, then recovers through half-open', async () => {
    const key = `resiliency-${process.pid}-${Date.now()}`;
    const save = await fetch(`${sc.url}/v1.0/state/flakystore`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ key, value: { n: 1 } }]) });
    expect(save.status).toBe(204);
    expect(await (await fetch(`${sc.url}/v1.0/state/flakystore/${key}`)).json()).toEqual({ n: 1 });

    // Every command answered with a Redis error: one attempt + 2 retries reach the store.
    gate.fail();
    const before = gate.scripts;
    const r1 = await fetch(`${sc.url}/v1.0/state/flakystore/${key}`);
    expect(r1.status).toBe(500);
    const e1 = (await r1.json()) as { errorCode: string; message: string };
    expect(e1.errorCode).toBe('ERR_STATE_GET');
    expect(e1.message).toContain('injected failure');
    expect(gate.scripts - before).toBe(3);

    // A store that never answers: each attempt is cut at 200 ms (the store's own read timeout is 3 s).
    gate.hang();
    const started = Date.now();
    const r2 = await fetch(`${sc.url}/v1.0/state/flakystore/${key}`);
    expect(Date.now() - started).toBeLessThan(2900);
    expect(r2.status).toBe(500);
    const e2 = (await r2.json()) as { errorCode: string; message: string };
    expect(e2.errorCode).toBe('ERR_STATE_GET');
    expect(e2.message).toContain('context deadline exceeded');

    // Six consecutive failures (3 errors, 3 timeouts): the breaker is open and rejects at once.
    await sc.waitFor(/Circuit breaker \\?"flakystore\\?" changed state from closed to open/);
    const r3 = await fetch(`${sc.url}/v1.0/state/flakystore/${key}`);
    const e3 = (await r3.json()) as { errorCode: string; message: string };
    expect(r3.status).toBe(500);
    expect(e3.errorCode).toBe('ERR_STATE_GET');
    expect(e3.message).toContain('circuit breaker is open');

    gate.pass();
    const value = await eventually(async () => {
      const r = await fetch(`${sc.url}/v1.0/state/flakystore/${key}`);
      return r.status === 200 ? r.json() : undefined;
    });
    expect(value).toEqual({ n: 1 });
    await sc.waitFor(/Circuit breaker \\?"flakystore\\?" changed state from half-open to closed/);

    const m = await metrics(sc);
    const labels = { app_id: 'storeuser', name: 'store-policies', namespace: '', flow_direction: 'outbound', target: 'Statestore_flakystore' };
    expect(series(m, 'dapr_resiliency_activations_total', { ...labels, policy: 'timeout', status: '' })).toBe(1);
    expect(series(m, 'dapr_resiliency_activations_total', { ...labels, policy: 'retry', status: '' })).toBe(2);
    expect(series(m, 'dapr_resiliency_activations_total', { ...labels, policy: 'circuitbreaker', status: 'open' })).toBeGreaterThanOrEqual(1);
    expect(series(m, 'dapr_resiliency_activations_total', { ...labels, policy: 'circuitbreaker', status: 'closed' })).toBe(1);
    expect(series(m, 'dapr_resiliency_cb_state', { ...labels, policy: 'circuitbreaker', status: 'closed' })).toBe(1);
  });
});

describe('component inbound: pub/sub delivery to the app', () => {
  let appPort = 0;
  let sc: SidecarProc;
  const plan = async (path: string, steps: Array<{ status: number; delayMs?: number }>, then = { status: 200 }): Promise<void> => {
    await fetch(`http://127.0.0.1:${appPort}/control/plan`, { method: 'POST', body: JSON.stringify({ path, steps, then }) });
  };
  const hits = async (path: string): Promise<number> =>
    ((await (await fetch(`http://127.0.0.1:${appPort}/control/hits?path=${encodeURIComponent(path)}`)).json()) as { count: number }).count;
  const subscription = (name: string, topic: string, route: string, deadLetter?: string, pubsub = 'events'): string =>
    `apiVersion: dapr.io/v2alpha1\nkind: Subscription\nmetadata:\n  name: ${name}\nspec:\n  pubsubname: ${pubsub}\n  topic: ${topic}\n  routes:\n    default: ${route}\n${deadLetter ? `  deadLetterTopic: ${deadLetter}\n` : ''}`;

  beforeAll(async () => {
    const app = startProcess(process.execPath, [FIXTURE], { env: { APP_PORT: '0' } });
    appPort = Number((await app.waitFor(/FLAKY-PORT (\d+)/))[1]);
    await plan('/p-orders', [{ status: 500 }, { status: 503 }]);
    await plan('/p-slow', [{ status: 200, delayMs: 3000 }]);
    await plan('/p-always', [], { status: 500 });
    await plan('/p-poison', []);
    await plan('/s-bad', [], { status: 400 });
    await plan('/s-busy', [{ status: 503 }, { status: 503 }]);
    await plan('/s-dead', []);
    const dir = writeFolder({
      'pubsub.yaml': 'apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: events\nspec:\n  type: pubsub.in-memory\n  version: v1\n',
      'sub-orders.yaml': subscription('orders', 'orders', '/p-orders'),
      'sub-slow.yaml': subscription('slow', 'slow', '/p-slow'),
      'sub-always.yaml': subscription('always', 'always', '/p-always', 'poison'),
      'sub-poison.yaml': subscription('poison', 'poison', '/p-poison'),
      'strict.yaml': 'apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: strict\nspec:\n  type: pubsub.in-memory\n  version: v1\n',
      'sub-bad.yaml': subscription('bad', 'bad', '/s-bad', 'dead', 'strict'),
      'sub-busy.yaml': subscription('busy', 'busy', '/s-busy', 'dead', 'strict'),
      'sub-dead.yaml': subscription('dead', 'dead', '/s-dead', undefined, 'strict'),
      'resiliency.yaml': resiliency('delivery-policies', `
policies:
  timeouts: { deliver: 300ms }
  retries:
    three: { policy: constant, duration: 20ms, maxRetries: 3 }
    only5xx: { policy: constant, duration: 20ms, maxRetries: 3, matching: { httpStatusCodes: "500-599" } }
targets:
  components:
    events:
      inbound: { timeout: deliver, retry: three }
    strict:
      inbound: { retry: only5xx }
`),
    }, tempDir('bulwark-res-'));
    sc = await startSidecar({ appId: 'subscriber', args: ['--app-port', String(appPort), '--resources-path', dir] });
    await eventually(async () => (await fetch(`${sc.url}/v1.0/healthz`)).status === 204);
  });

  const publish = async (topic: string, data: unknown, pubsub = 'events'): Promise<void> => {
    const r = await fetch(`${sc.url}/v1.0/publish/${pubsub}/${topic}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(data) });
    expect(r.status).toBe(204);
  };

  it('retries a delivery the app fails twice, exactly until it succeeds', async () => {
    await publish('orders', { id: 1 });
    await eventually(async () => (await hits('/p-orders')) === 3);
    await new Promise((r) => setTimeout(r, 300)); // nothing more arrives once it succeeded
    expect(await hits('/p-orders')).toBe(3);
  });

  it('cuts a slow delivery at the inbound timeout and delivers again', async () => {
    await publish('slow', { id: 2 });
    await eventually(async () => (await hits('/p-slow')) === 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(await hits('/p-slow')).toBe(2);
  });

  it('gives up after maxRetries and dead-letters the message', async () => {
    await publish('always', { id: 3 });
    await eventually(async () => (await hits('/p-poison')) === 1);
    expect(await hits('/p-always')).toBe(4);
    const m = await metrics(sc);
    const labels = { app_id: 'subscriber', name: 'delivery-policies', namespace: '', flow_direction: 'inbound', target: 'Pubsub_events', status: '' };
    expect(series(m, 'dapr_resiliency_activations_total', { ...labels, policy: 'retry' })).toBe(3);
    expect(series(m, 'dapr_resiliency_activations_total', { ...labels, policy: 'timeout' })).toBe(1);
  });

  it('retries a delivery only for the statuses matching.httpStatusCodes lists', async () => {
    await publish('bad', { id: 4 }, 'strict'); // 400 is outside 500-599: one attempt, then dead-lettered
    await eventually(async () => (await hits('/s-dead')) === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(await hits('/s-bad')).toBe(1);
    await publish('busy', { id: 5 }, 'strict'); // 503, 503, then 200: retried until it succeeds
    await eventually(async () => (await hits('/s-busy')) === 3);
    await new Promise((r) => setTimeout(r, 300));
    expect(await hits('/s-busy')).toBe(3);
    expect(await hits('/s-dead')).toBe(1);
  });
});
