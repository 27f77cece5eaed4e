// Resiliency on actor calls, split as Dapr splits it: the caller's sidecar applies the retry and
// the circuit breaker before the actor's turn lock; the owner's sidecar applies the timeout
// once the call holds the turn, so time queued behind another call is not limited. Real
// sidecars, the plain actor app, calls from a second sidecar that hosts no actors.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { callActor, NO_GRPC, readEvents, sqliteActorStore, startActorHost } from '../helpers/actors.js';
import { startSidecar, tempDir, type SidecarProc } from '../helpers/processes.js';

const dir = tempDir('bulwark-actor-res-');
const events = join(dir, 'events.jsonl');
let host: SidecarProc;
let client: SidecarProc;

function resiliency(name: string, spec: string): string {
  return `apiVersion: dapr.io/v1alpha1\nkind: Resiliency\nmetadata:\n  name: ${name}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
}

// The owner: a 3 s timeout on Counter, which limits each turn.
const HOST_RESILIENCY = resiliency('owner', `
policies:
  timeouts: { turn: 3s }
targets:
  actors:
    Counter: { timeout: turn }
`);

// The caller: retries and a breaker for Counter, and a 1 s timeout that, as in Dapr, the caller
// does not apply (it hosts no Counter; a timeout applies only where the turn is taken).
const CLIENT_RESILIENCY = resiliency('caller', `
policies:
  timeouts: { oneSecond: 1s }
  retries: { three: { policy: constant, duration: 50ms, maxRetries: 2 } }
  circuitBreakers: { cb: { maxRequests: 1, timeout: 60s, trip: consecutiveFailures >= 6 } }
targets:
  actors:
    Counter: { timeout: oneSecond, retry: three, circuitBreaker: cb, circuitBreakerScope: id }
`);

async function metrics(sc: SidecarProc): Promise<string> {
  const reg = join(sc.home, 'registry');
  const file = readdirSync(reg).find((f) => f.endsWith('.json') && (JSON.parse(readFileSync(join(reg, f), 'utf8')) as { httpPort: number }).httpPort === sc.httpPort)!;
  const entry = JSON.parse(readFileSync(join(reg, file), 'utf8')) as { metricsPort: number };
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

beforeAll(async () => {
  const home = tempDir('bulwark-home-'); // one home: the sidecars find each other through it
  host = await startActorHost({
    appId: 'res-owner',
    home,
    resources: { 'store.yaml': sqliteActorStore(join(dir, 'actors.db')), 'resiliency.yaml': HOST_RESILIENCY },
    env: { EVENTS_FILE: events, HOST_NAME: 'owner' },
  });
  client = await startSidecar({ appId: 'res-caller', home, resources: { 'resiliency.yaml': CLIENT_RESILIENCY }, args: NO_GRPC });
}, 120_000);

describe('actor timeout: after the turn lock, on the owner', () => {
  it('does not count the time a call waits for the turn, only its run', async () => {
    // Two 2 s turns on one actor: the second waits about 2 s, then runs 2 s, about 4 s in all,
    // more than the 3 s timeout, and still succeeds because only its run is limited.
    for (const via of [client, host]) {
      const id = `queued-${via === client ? 'remote' : 'local'}`;
      const [a, b] = await Promise.all([callActor(via, 'Counter', id, 'sleep', { ms: 2000 }), callActor(via, 'Counter', id, 'sleep', { ms: 2000 })]);
      expect([a.status, b.status], `${a.text} ${b.text}`).toEqual([200, 200]);
      const ev = readEvents(events).filter((e) => e.id === id && (e.ev === 'enter' || e.ev === 'exit')).map((e) => e.ev);
      expect(ev).toEqual(['enter', 'exit', 'enter', 'exit']); // one after the other: the second one queued
    }
  });

  it('ends a turn that runs past the timeout with context deadline exceeded, then serves the actor again', async () => {
    const r = await callActor(host, 'Counter', 'slow-local', 'sleep', { ms: 8000 });
    expect(r.status).toBe(500);
    const body = JSON.parse(r.text) as { errorCode: string; message: string };
    expect(body.errorCode).toBe('ERR_ACTOR_INVOKE_METHOD');
    expect(body.message).toContain('context deadline exceeded');
    expect((await callActor(host, 'Counter', 'slow-local', 'get')).status).toBe(200);
    const m = await metrics(host);
    const labels = { app_id: 'res-owner', name: 'owner', namespace: '', flow_direction: 'outbound', target: 'actor_Counter', status: '' };
    expect(series(m, 'dapr_resiliency_activations_total', { ...labels, policy: 'timeout' })).toBe(1);
    expect(series(m, 'dapr_resiliency_count', { ...labels, policy: 'timeout' })).toBeGreaterThanOrEqual(3);
  });

  it('is the owner\'s timeout that limits a call routed from another sidecar, not the caller\'s', async () => {
    // The caller's 1 s would cut this 2 s call; the owner's 3 s does not.
    expect((await callActor(client, 'Counter', 'remote-2s', 'sleep', { ms: 2000 })).status).toBe(200);
    const r = await callActor(client, 'Counter', 'remote-slow', 'sleep', { ms: 8000 });
    expect(r.status).toBe(500);
    expect(r.text).toContain('context deadline exceeded');
    const m = await metrics(client);
    expect(series(m, 'dapr_resiliency_count', { app_id: 'res-caller', target: 'actor_Counter', policy: 'timeout' })).toBeUndefined();
  });
});

describe('actor retry and circuit breaker: before the turn lock, on the caller', () => {
  it('retries a failing actor call on the caller: fail 2, succeed on the 3rd attempt', async () => {
    const r = await callActor(client, 'Counter', 'flaky-1', 'flaky', { failures: 2 });
    expect(r.status, r.text).toBe(200);
    expect((JSON.parse(r.text) as { attempt: number }).attempt).toBe(3);
  });

  it('gives up after maxRetries and relays the last failure', async () => {
    const labels = { app_id: 'res-caller', name: 'caller', namespace: '', flow_direction: 'outbound', target: 'actor_Counter' };
    const before = series(await metrics(client), 'dapr_resiliency_activations_total', { ...labels, policy: 'retry', status: '' }) ?? 0;
    const r = await callActor(client, 'Counter', 'flaky-2', 'flaky', { failures: 10 });
    expect(r.status).toBe(500);
    // One more call shows how many attempts the app saw: 3, and this is the 4th.
    const again = await callActor(host, 'Counter', 'flaky-2', 'flaky', { failures: 0 });
    expect((JSON.parse(again.text) as { attempt: number }).attempt).toBe(4);
    // Once per operation, not per retry.
    expect(series(await metrics(client), 'dapr_resiliency_activations_total', { ...labels, policy: 'retry', status: '' })).toBe(before + 1);
  });

  it('opens the per-id breaker on the caller and rejects without reaching the owner', async () => {
    // 6 consecutive failures (two calls of 3 attempts) trip the breaker of this id only.
    await callActor(client, 'Counter', 'broken', 'flaky', { failures: 100 });
    await callActor(client, 'Counter', 'broken', 'flaky', { failures: 100 });
    const r = await callActor(client, 'Counter', 'broken', 'flaky', { failures: 100 });
    expect(r.status).toBe(500);
    const body = JSON.parse(r.text) as { errorCode: string; message: string };
    expect(body.errorCode).toBe('ERR_ACTOR_INVOKE_METHOD');
    expect(body.message).toContain('circuit breaker is open');
    const seen = await callActor(host, 'Counter', 'broken', 'flaky', { failures: 0 });
    expect((JSON.parse(seen.text) as { attempt: number }).attempt).toBe(7); // the rejected call never reached the app
    expect((await callActor(client, 'Counter', 'other-id', 'flaky', { failures: 0 })).status).toBe(200);
  });
});
