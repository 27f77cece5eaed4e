// Resiliency on service invocation, end to end: a real sidecar in front of a scriptable flaky
// app (test/integration/fixtures/flaky-app.mjs), Resiliency YAML in its resources folder, calls
// through `/v1.0/invoke/<own id>/method/...`. Attempt counts are exact; time is only bounded
// generously.
import { readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, ROOT, startProcess, startSidecar, tempDir, writeFolder, type SidecarProc } from '../helpers/processes.js';

const FIXTURE = join(ROOT, 'test/integration/fixtures/flaky-app.mjs');
let appPort = 0;

beforeAll(async () => {
  const app = startProcess(process.execPath, [FIXTURE], { env: { APP_PORT: '0' } });
  appPort = Number((await app.waitFor(/FLAKY-PORT (\d+)/))[1]);
});

interface Step { status: number; delayMs?: number }

async function plan(path: string, steps: Step[], then: Step = { status: 200 }): Promise<void> {
  const r = await fetch(`http://127.0.0.1:${appPort}/control/plan`, { method: 'POST', body: JSON.stringify({ path, steps, then }) });
  expect(r.status).toBe(204);
}

async function hits(path: string): Promise<{ count: number; bodies: string[] }> {
  return (await fetch(`http://127.0.0.1:${appPort}/control/hits?path=${encodeURIComponent(path)}`)).json() as Promise<{ count: number; bodies: string[] }>;
}

function resiliency(name: string, spec: string, scopes?: string): string {
  return `apiVersion: dapr.io/v1alpha1\nkind: Resiliency\nmetadata:\n  name: ${name}\n${scopes ? `scopes: [${scopes}]\n` : ''}spec:\n${spec.replace(/^/gm, '  ')}\n`;
}

async function sidecar(files: Record<string, string>, folder?: string): Promise<SidecarProc & { folder: string }> {
  const dir = folder ?? writeFolder(files, tempDir('bulwark-res-'));
  const sc = await startSidecar({ appId: 'flaky', args: ['--app-port', String(appPort), '--resources-path', dir] });
  await eventually(async () => (await fetch(`${sc.url}/v1.0/healthz`)).status === 204);
  return { ...sc, folder: dir };
}

async function call(sc: SidecarProc, path: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${sc.url}/v1.0/invoke/flaky/method${path}`, init);
  const text = await r.text();
  return { status: r.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function metrics(sc: SidecarProc): Promise<string> {
  const dir = join(sc.home, 'registry');
  const entry = JSON.parse(readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.json'))!), 'utf8')) as { metricsPort: number };
  return (await fetch(`http://127.0.0.1:${entry.metricsPort}/metrics`)).text();
}

/** The value of one series, or undefined when absent; `labels` must all match. */
function series(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    const have = Object.fromEntries([...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('retries on service invocation', () => {
  let sc: SidecarProc;
  beforeAll(async () => {
    sc = await sidecar({
      'resiliency.yaml': resiliency('invoke-retries', `
policies:
  retries:
    three: { policy: constant, duration: 50ms, maxRetries: 3 }
targets:
  apps:
    flaky: { retry: three }
`),
    });
  });

  it('retries a failing answer until it succeeds: fail 2, succeed on the 3rd attempt', async () => {
    await plan('/c-fail2', [{ status: 500 }, { status: 503 }]);
    const r = await call(sc, '/c-fail2');
    expect(r.status).toBe(200);
    expect(r.body.attempt).toBe(3);
    expect((await hits('/c-fail2')).count).toBe(3);
  });

  it('gives up after maxRetries and relays the last answer as-is', async () => {
    await plan('/c-always', [], { status: 502 });
    const r = await call(sc, '/c-always');
    expect(r.status).toBe(502);
    expect(r.body).toEqual({ path: '/c-always', attempt: 4, status: 502 });
    expect((await hits('/c-always')).count).toBe(4);
  });

  it('replays a small request body on every attempt', async () => {
    await plan('/c-body', [{ status: 500 }, { status: 500 }]);
    const payload = JSON.stringify({ order: 42, items: ['a', 'b'] });
    const r = await call(sc, '/c-body', { method: 'POST', body: payload, headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(200);
    expect((await hits('/c-body')).bodies).toEqual([payload, payload, payload]);
  });

  it('sends a body too large to buffer once, streamed, even when the answer fails', async () => {
    await plan('/c-large', [{ status: 500 }]);
    const payload = 'x'.repeat(100 * 1024);
    const r = await call(sc, '/c-large', { method: 'POST', body: payload, headers: { 'content-type': 'text/plain' } });
    expect(r.status).toBe(500);
    const h = await hits('/c-large');
    expect(h.count).toBe(1);
    expect(h.bodies[0]!.length).toBe(payload.length);
  });

  it('treats 3xx as success, not as a failure to retry', async () => {
    await plan('/c-redirect', [], { status: 304 });
    const r = await fetch(`${sc.url}/v1.0/invoke/flaky/method/c-redirect`);
    expect(r.status).toBe(304);
    expect((await hits('/c-redirect')).count).toBe(1);
  });
});

describe('status matching and exponential back-off', () => {
  let sc: SidecarProc;
  beforeAll(async () => {
    sc = await sidecar({
      'resiliency.yaml': resiliency('invoke-matching', `
policies:
  retries:
    expo: { policy: exponential, maxInterval: 300ms, maxRetries: 3, matching: { httpStatusCodes: "429,500-599" } }
targets:
  apps:
    flaky: { retry: expo }
`),
    });
  });

  it('retries matching 5xx with exponential back-off: fail 3, succeed on the 4th', async () => {
    await plan('/e-fail3', [{ status: 503 }, { status: 500 }, { status: 429 }]);
    const r = await call(sc, '/e-fail3');
    expect(r.status).toBe(200);
    expect((await hits('/e-fail3')).count).toBe(4);
  });

  it('stops after maxRetries when the app always fails', async () => {
    await plan('/e-always', [], { status: 500 });
    const r = await call(sc, '/e-always');
    expect(r.status).toBe(500);
    expect(r.body.attempt).toBe(4);
    expect((await hits('/e-always')).count).toBe(4);
  });

  it('does not retry a 4xx the matching list excludes', async () => {
    await plan('/e-404', [{ status: 404 }]);
    const r = await call(sc, '/e-404');
    expect(r.status).toBe(404);
    expect((await hits('/e-404')).count).toBe(1);
    await plan('/e-400', [{ status: 400 }, { status: 503 }]);
    expect((await call(sc, '/e-400')).status).toBe(400);
    expect((await hits('/e-400')).count).toBe(1);
  });
});

describe('timeouts', () => {
  let sc: SidecarProc;
  beforeAll(async () => {
    sc = await sidecar({
      'resiliency.yaml': resiliency('invoke-timeouts', `
policies:
  timeouts:
    fast: 100ms
targets:
  apps:
    flaky: { timeout: fast }
`),
    });
  });

  it('cuts a 5 s upstream after 100 ms with Dapr\'s error', async () => {
    await plan('/t-slow', [], { status: 200, delayMs: 5000 });
    const started = Date.now();
    const r = await call(sc, '/t-slow');
    const elapsed = Date.now() - started;
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ errorCode: 'ERR_DIRECT_INVOKE', message: 'failed to invoke, id: flaky, err: context deadline exceeded' });
    expect(elapsed).toBeLessThan(4000); // generous: the upstream would take 5 s
    expect((await hits('/t-slow')).count).toBe(1);
  });

  it('answers normally when the app is fast enough', async () => {
    await plan('/t-fast', [], { status: 200 });
    expect((await call(sc, '/t-fast')).status).toBe(200);
  });

  it('counts the timeout in the resiliency metrics once per operation', async () => {
    const m = await metrics(sc);
    const labels = { app_id: 'flaky', name: 'invoke-timeouts', namespace: '', flow_direction: 'outbound', target: 'app_flaky', status: '' };
    expect(series(m, 'dapr_resiliency_activations_total', { ...labels, policy: 'timeout' })).toBe(1);
    expect(series(m, 'dapr_resiliency_count', { ...labels, policy: 'timeout' })).toBe(2);
    expect(series(m, 'dapr_resiliency_loaded', { app_id: 'flaky', name: 'invoke-timeouts', namespace: '' })).toBe(1);
  });
});

describe('a timeout inside a retry', () => {
  it('times out each attempt and retries it', async () => {
    const sc = await sidecar({
      'resiliency.yaml': resiliency('invoke-timeout-retry', `
policies:
  timeouts: { fast: 100ms }
  retries: { two: { policy: constant, duration: 10ms, maxRetries: 2 } }
targets:
  apps:
    flaky: { timeout: fast, retry: two }
`),
    });
    await plan('/tr-slow2', [{ status: 200, delayMs: 3000 }, { status: 200, delayMs: 3000 }]);
    const r = await call(sc, '/tr-slow2');
    expect(r.status).toBe(200);
    expect(r.body.attempt).toBe(3);
    await plan('/tr-always', [], { status: 200, delayMs: 3000 });
    const r2 = await call(sc, '/tr-always');
    expect(r2.body).toEqual({ errorCode: 'ERR_DIRECT_INVOKE', message: 'failed to invoke, id: flaky, err: context deadline exceeded' });
    expect((await hits('/tr-always')).count).toBe(3);
    const m = await metrics(sc);
    const labels = { app_id: 'flaky', name: 'invoke-timeout-retry', namespace: '', flow_direction: 'outbound', target: 'app_flaky', status: '' };
    expect(series(m, 'dapr_resiliency_activations_total', { ...labels, policy: 'timeout' })).toBe(2);
    expect(series(m, 'dapr_resiliency_activations_total', { ...labels, policy: 'retry' })).toBe(2);
    expect(series(m, 'dapr_resiliency_count', { ...labels, policy: 'retry' })).toBe(2);
  });
});

describe('circuit breaker', () => {
  it('trips after the expression holds, rejects while open, lets maxRequests through half-open and closes on success', async () => {
    const sc = await sidecar({
      'resiliency.yaml': resiliency('invoke-breaker', `
policies:
  circuitBreakers:
    cb: { maxRequests: 1, timeout: 3s, trip: consecutiveFailures >= 2 }
targets:
  apps:
    flaky: { circuitBreaker: cb }
`),
    });
    await plan('/cb', [], { status: 500 });
    expect((await call(sc, '/cb')).status).toBe(500);
    expect((await call(sc, '/cb')).status).toBe(500);
    await sc.waitFor(/Circuit breaker \\?"flaky:\/cb\\?" changed state from closed to open/);
    // Open: rejected without reaching the app.
    const open = await call(sc, '/cb');
    expect(open).toEqual({ status: 500, body: { errorCode: 'ERR_DIRECT_INVOKE', message: 'failed to invoke, id: flaky, err: circuit breaker is open' } });
    expect((await hits('/cb')).count).toBe(2);
    // Another method has its own breaker.
    await plan('/cb-other', [], { status: 200 });
    expect((await call(sc, '/cb-other')).status).toBe(200);
    let m = await metrics(sc);
    const labels = { app_id: 'flaky', name: 'invoke-breaker', namespace: '', policy: 'circuitbreaker', flow_direction: 'outbound', target: 'app_flaky' };
    expect(series(m, 'dapr_resiliency_activations_total', { ...labels, status: 'open' })).toBe(1);

    // After the timeout: half-open lets one slow probe through and rejects the rest.
    await plan('/cb', [{ status: 200, delayMs: 3000 }], { status: 200 });
    await new Promise((r) => setTimeout(r, 3300));
    const probe = call(sc, '/cb');
    await eventually(async () => (await hits('/cb')).count === 1);
    const extra = await call(sc, '/cb');
    expect(extra).toEqual({ status: 500, body: { errorCode: 'ERR_DIRECT_INVOKE', message: 'failed to invoke, id: flaky, err: too many requests' } });
    expect((await probe).status).toBe(200);
    await sc.waitFor(/Circuit breaker \\?"flaky:\/cb\\?" changed state from open to half-open/);
    await sc.waitFor(/Circuit breaker \\?"flaky:\/cb\\?" changed state from half-open to closed/);
    expect((await call(sc, '/cb')).status).toBe(200);
    expect((await hits('/cb')).count).toBe(2);

    m = await metrics(sc);
    expect(series(m, 'dapr_resiliency_activations_total', { ...labels, status: 'half-open' })).toBe(1);
    expect(series(m, 'dapr_resiliency_activations_total', { ...labels, status: 'closed' })).toBe(1);
    expect(series(m, 'dapr_resiliency_cb_state', { ...labels, status: 'closed' })).toBe(1);
    expect(series(m, 'dapr_resiliency_cb_state', { ...labels, status: 'open' })).toBe(0);
    expect(series(m, 'dapr_resiliency_cb_state', { ...labels, status: 'half-open' })).toBe(0);
    expect(series(m, 'dapr_resiliency_cb_state', { ...labels, status: 'unknown' })).toBe(0);
    // One lookup per call, labelled with the state it saw: closed for the 2 failures, /cb-other
    // and the final call; open for the rejected one; half-open for the probe and the extra call.
    expect(series(m, 'dapr_resiliency_count', { ...labels, status: 'closed' })).toBe(4);
    expect(series(m, 'dapr_resiliency_count', { ...labels, status: 'open' })).toBe(1);
    expect(series(m, 'dapr_resiliency_count', { ...labels, status: 'half-open' })).toBe(2);
  });
});

describe('defaults', () => {
  it('makes one attempt when there is no Resiliency file at all', async () => {
    const sc = await sidecar({});
    await plan('/d-none', [{ status: 500 }]);
    expect((await call(sc, '/d-none')).status).toBe(500);
    expect((await hits('/d-none')).count).toBe(1);
    expect(series(await metrics(sc), 'dapr_resiliency_loaded', { app_id: 'flaky' })).toBeUndefined();
  });

  it('applies DefaultAppRetryPolicy before DefaultRetryPolicy to apps without a named target', async () => {
    const sc = await sidecar({
      'resiliency.yaml': resiliency('defaults', `
policies:
  retries:
    DefaultRetryPolicy: { policy: constant, duration: 10ms, maxRetries: 1 }
    DefaultAppRetryPolicy: { policy: constant, duration: 10ms, maxRetries: 2 }
`),
    });
    await plan('/d-app', [], { status: 500 });
    expect((await call(sc, '/d-app')).status).toBe(500);
    expect((await hits('/d-app')).count).toBe(3);
  });

  it('ignores a Resiliency scoped to other apps and skips an invalid one, naming file and field', async () => {
    const sc = await sidecar({
      'a-other.yaml': resiliency('other-app', `
policies:
  retries: { DefaultRetryPolicy: { duration: 10ms, maxRetries: 5 } }
`, 'someone-else'),
      'b-broken.yaml': resiliency('broken', `
policies:
  retries: { DefaultRetryPolicy: { duration: 10ms, maxRetries: "5" } }
`),
    });
    await sc.waitFor(/Could not read resiliency policy broken: .*b-broken\.yaml.*field spec\.policies\.retries\.DefaultRetryPolicy\.maxRetries: must be an integer/);
    await plan('/d-scoped', [{ status: 500 }]);
    expect((await call(sc, '/d-scoped')).status).toBe(500);
    expect((await hits('/d-scoped')).count).toBe(1);
  });
});

describe('hot reload', () => {
  it('applies an edited file to new calls without failing the call in flight, and keeps the last good policy on a broken edit', async () => {
    const file = (maxRetries: string): string => resiliency('reloadable', `
policies:
  retries:
    r: { policy: constant, duration: 20ms, maxRetries: ${maxRetries} }
targets:
  apps:
    flaky: { retry: r }
`);
    const folder = writeFolder({ 'resiliency.yaml': file('1') }, tempDir('bulwark-res-'));
    const sc = await sidecar({}, folder);
    const listed = async (): Promise<unknown> => ((await (await fetch(`${sc.url}/v1.0/metadata`)).json()) as { resiliencies?: unknown }).resiliencies;
    expect(await listed()).toEqual([{ name: 'reloadable' }]);

    await plan('/h-before', [{ status: 500 }, { status: 500 }]);
    expect((await call(sc, '/h-before')).status).toBe(500); // maxRetries 1: two attempts
    expect((await hits('/h-before')).count).toBe(2);

    // A call in flight (first attempt fails, the retry is slow) while the file changes.
    await plan('/h-inflight', [{ status: 500 }, { status: 200, delayMs: 2500 }]);
    const inflight = call(sc, '/h-inflight');
    await eventually(async () => (await hits('/h-inflight')).count === 2);
    writeFileSync(join(folder, 'resiliency.yaml'), file('3'));
    await sc.waitFor(/resiliency reloaded: 1 resource\(s\) \(reloadable\)/);
    expect((await inflight).status).toBe(200);

    await plan('/h-after', [{ status: 500 }, { status: 500 }, { status: 500 }]);
    expect((await call(sc, '/h-after')).status).toBe(200); // maxRetries 3: four attempts
    expect((await hits('/h-after')).count).toBe(4);

    // A broken edit is refused; the last good policy stays.
    writeFileSync(join(folder, 'resiliency.yaml'), file('lots'));
    await sc.waitFor(/Could not read resiliency policy in .*resiliency\.yaml: .*maxRetries.*keeping the last good version/);
    await plan('/h-broken', [{ status: 500 }, { status: 500 }, { status: 500 }]);
    expect((await call(sc, '/h-broken')).status).toBe(200);
    expect((await hits('/h-broken')).count).toBe(4);

    // Adding a second file merges with the first.
    writeFileSync(join(folder, 'resiliency.yaml'), file('3'));
    writeFileSync(join(folder, 'timeouts.yaml'), resiliency('more', `
policies:
  timeouts: { quick: 100ms }
targets:
  apps:
    flaky: { timeout: quick }
`));
    await sc.waitFor(/resiliency reloaded: 2 resource\(s\) \(reloadable, more\)/);
    // The later file's target entry replaces the earlier one wholesale: timeout, no retry.
    await plan('/h-merged', [{ status: 200, delayMs: 2000 }]);
    const merged = await call(sc, '/h-merged');
    expect(merged.body.message).toBe('failed to invoke, id: flaky, err: context deadline exceeded');
    expect((await hits('/h-merged')).count).toBe(1);
    // The metadata API lists the resources in force after each reload.
    expect(await listed()).toEqual([{ name: 'reloadable' }, { name: 'more' }]);
    unlinkSync(join(folder, 'timeouts.yaml'));
    await eventually(async () => JSON.stringify(await listed()) === JSON.stringify([{ name: 'reloadable' }]));
  });
});

describe('policies on the calling sidecar for another app', () => {
  it('retries and times out calls to a remote app id on the caller side', async () => {
    const home = tempDir('bulwark-home-');
    const callee = await startSidecar({ appId: 'flaky', home, args: ['--app-port', String(appPort)] });
    await eventually(async () => (await fetch(`${callee.url}/v1.0/healthz`)).status === 204);
    const caller = await startSidecar({
      appId: 'caller',
      home,
      resources: {
        'resiliency.yaml': resiliency('caller-policies', `
policies:
  timeouts: { fast: 150ms }
  retries: { three: { policy: constant, duration: 20ms, maxRetries: 3 } }
targets:
  apps:
    flaky: { timeout: fast, retry: three }
`),
      },
    });
    await plan('/r-fail3', [{ status: 500 }, { status: 502 }, { status: 503 }]);
    const r = await call(caller, '/r-fail3');
    expect(r.status).toBe(200);
    expect(r.body.attempt).toBe(4);
    await plan('/r-slow', [], { status: 200, delayMs: 3000 });
    const slow = await call(caller, '/r-slow');
    expect(slow.body).toEqual({ errorCode: 'ERR_DIRECT_INVOKE', message: 'failed to invoke, id: flaky, err: context deadline exceeded' });
    expect((await hits('/r-slow')).count).toBe(4);
    // The callee's own sidecar has no policy: a direct call there is one attempt.
    await plan('/r-direct', [{ status: 500 }]);
    expect((await call(callee, '/r-direct')).status).toBe(500);
    expect((await hits('/r-direct')).count).toBe(1);
  });
});

describe('fronting', () => {
  it('applies the own app id\'s policy to requests arriving on the public port', async () => {
    const dir = writeFolder({
      'resiliency.yaml': resiliency('fronting-policies', `
policies:
  retries: { three: { policy: constant, duration: 20ms, maxRetries: 3 } }
targets:
  apps:
    flaky: { retry: three }
`),
    }, tempDir('bulwark-res-'));
    const sc = await startSidecar({ appId: 'flaky', args: ['--app-port', String(appPort), '--resources-path', dir, '--public-port', '0'] });
    const publicPort = Number((await sc.waitFor(/public fronting on [^:\s]+:(\d+)/))[1]);
    await eventually(async () => (await fetch(`${sc.url}/v1.0/healthz`)).status === 204);
    await plan('/f-fail2', [{ status: 500 }, { status: 503 }]);
    const r = await fetch(`http://127.0.0.1:${publicPort}/f-fail2`);
    expect(r.status).toBe(200);
    expect(((await r.json()) as { attempt: number }).attempt).toBe(3);
    await plan('/f-always', [], { status: 500 });
    expect((await fetch(`http://127.0.0.1:${publicPort}/f-always`)).status).toBe(500);
    expect((await hits('/f-always')).count).toBe(4);
  });
});

describe('retry forever, by omission', () => {
  it('keeps retrying while the caller waits and stops when the caller goes away', async () => {
    const sc = await sidecar({
      'resiliency.yaml': resiliency('forever', `
policies:
  retries:
    forever: { policy: constant, duration: 50ms }
targets:
  apps:
    flaky: { retry: forever }
`),
    });
    await plan('/g-forever', [], { status: 500 });
    const ac = new AbortController();
    const pending = fetch(`${sc.url}/v1.0/invoke/flaky/method/g-forever`, { signal: ac.signal }).catch((err: Error) => err.name);
    await eventually(async () => (await hits('/g-forever')).count >= 5);
    ac.abort();
    expect(await pending).toBe('AbortError');
    const settled = await eventually(async () => {
      const a = (await hits('/g-forever')).count;
      await new Promise((r) => setTimeout(r, 500));
      const b = (await hits('/g-forever')).count;
      return a === b ? b : undefined;
    });
    await new Promise((r) => setTimeout(r, 500));
    expect((await hits('/g-forever')).count).toBe(settled);
  });
});
