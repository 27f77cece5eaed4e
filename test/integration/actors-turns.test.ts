// Turn-based access through real sidecars: 1,000 concurrent increments of one actor from two
// sidecars add up to exactly 1,000; calls to different ids overlap, calls to one id never do;
// reentrancy A -> B -> A succeeds when on, and waits (no deadlock error) up to the actor call
// timeout when off.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { callActor, readEvents, sqliteActorStore, startActorHost, NO_GRPC } from '../helpers/actors.js';
import { startSidecar, tempDir, type SidecarProc } from '../helpers/processes.js';

const dir = tempDir('bulwark-turns-');
const events = join(dir, 'events.jsonl');
let host: SidecarProc;
let client: SidecarProc;

const TIMEOUT_RESILIENCY = `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: actor-timeouts
spec:
  policies:
    timeouts:
      short: 3s
  targets:
    actors:
      A:
        timeout: short
`;

beforeAll(async () => {
  const home = tempDir('bulwark-home-');
  host = await startActorHost({ appId: 'turns', home, resources: { 'store.yaml': sqliteActorStore(join(dir, 'actors.db')) }, env: { EVENTS_FILE: events, HOST_NAME: 'h1' } });
  client = await startSidecar({ appId: 'turns-client', home, resources: {}, args: NO_GRPC });
});

describe('turn-based calls', () => {
  it('1,000 concurrent increments from two sidecars end at exactly 1,000', async () => {
    const calls = Array.from({ length: 1000 }, (_, i) => callActor(i % 2 === 0 ? host : client, 'Counter', 'hot', 'increment'));
    const results = await Promise.all(calls);
    expect(results.filter((r) => r.status !== 200).map((r) => r.text)).toEqual([]);
    const counts = results.map((r) => (JSON.parse(r.text) as { count: number }).count).sort((a, b) => a - b);
    expect(counts).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1)); // each turn saw the previous one
    expect(JSON.parse((await callActor(client, 'Counter', 'hot', 'get')).text).count).toBe(1000);
  }, 120_000);

  it('runs different ids in parallel and one id one call at a time', async () => {
    const ids = ['p-1', 'p-2', 'p-3', 'p-4'];
    await Promise.all([...ids, 'p-1', 'p-1'].map((id) => callActor(client, 'Counter', id, 'sleep', { ms: 400 })));
    const ev = readEvents(events).filter((e) => (e.ev === 'enter' || e.ev === 'exit') && e.id.startsWith('p-'));
    // Walk the log in order: how many calls were inside at once, overall and per id.
    let inside = 0;
    let maxInside = 0;
    const perId = new Map<string, number>();
    for (const e of ev) {
      const d = e.ev === 'enter' ? 1 : -1;
      inside += d;
      perId.set(e.id, (perId.get(e.id) ?? 0) + d);
      maxInside = Math.max(maxInside, inside);
      expect(perId.get(e.id)!).toBeLessThanOrEqual(1);
    }
    expect(maxInside).toBeGreaterThan(1);
    expect(ev.filter((e) => e.ev === 'enter' && e.id === 'p-1')).toHaveLength(3);
  });
});

describe('reentrancy', () => {
  it('A -> B -> A succeeds with reentrancy on', async () => {
    const home = tempDir('bulwark-home-');
    const re = await startActorHost({ appId: 're-on', home, resources: { 'store.yaml': sqliteActorStore(join(dir, 're-on.db')) }, env: { ACTOR_TYPES: 'A,B', REENTRANCY: 'true' } });
    const r = await callActor(re, 'A', 'a1', 'callOther', { type: 'B', id: 'b1', method: 'callOther', body: { type: 'A', id: 'a1', method: 'get' } });
    expect(r.status, r.text).toBe(200);
    const outer = JSON.parse(r.text) as { nestedStatus: number; nested: string };
    expect(outer.nestedStatus).toBe(200);
    const inner = JSON.parse(JSON.parse(outer.nested).nested) as { count: number };
    expect(inner.count).toBe(0);
  });

  it('A -> B -> A waits for the turn with reentrancy off, until the actor call timeout', async () => {
    const home = tempDir('bulwark-home-');
    const off = await startActorHost({ appId: 're-off', home, resources: { 'store.yaml': sqliteActorStore(join(dir, 're-off.db')), 'resiliency.yaml': TIMEOUT_RESILIENCY }, env: { ACTOR_TYPES: 'A,B' } });
    const r = await callActor(off, 'A', 'a1', 'callOther', { type: 'B', id: 'b1', method: 'callOther', body: { type: 'A', id: 'a1', method: 'get' } });
    expect(r.status).toBe(500);
    const body = JSON.parse(r.text) as { errorCode: string; message: string };
    expect(body.errorCode).toBe('ERR_ACTOR_INVOKE_METHOD');
    expect(body.message).toContain('context deadline exceeded');
    // Once the outer turn ended, the actor serves calls again.
    expect((await callActor(off, 'A', 'a1', 'get')).status).toBe(200);
  });
});
