// Dapr's dapr_runtime_actor_* metrics, scraped from a real sidecar's /metrics while the plain
// actor app runs calls, timers, reminders and idle deactivations: values follow what the app's
// event log says happened, and no series carries an actor id.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readEntries } from '../../proxy/naming/local-registry.js';
import { callActor, readEvents, sqliteActorStore, startActorHost } from '../helpers/actors.js';
import { eventually, tempDir, type SidecarProc } from '../helpers/processes.js';

const dir = tempDir('bulwark-actor-metrics-');
const events = join(dir, 'events.jsonl');
const home = tempDir('bulwark-home-');
let host: SidecarProc;
let metricsPort = 0;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const count = (ev: string, pred: (e: { id: string; name?: string }) => boolean = () => true): number =>
  readEvents(events).filter((e) => e.ev === ev && pred(e)).length;

async function scrape(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of the series `name` whose labels include `labels`, or undefined. */
function value(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const have = Object.fromEntries([...line.slice(name.length + 1, line.lastIndexOf('}')).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

const counter = { app_id: 'metrics-app', actor_type: 'Counter' };

async function put(path: string, body: unknown): Promise<number> {
  const r = await fetch(`${host.url}/v1.0/actors/Counter/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return r.status;
}

beforeAll(async () => {
  host = await startActorHost({
    appId: 'metrics-app',
    home,
    resources: { 'store.yaml': sqliteActorStore(join(dir, 'actors.db')) },
    env: { EVENTS_FILE: events, HOST_NAME: 'h1', IDLE_TIMEOUT: '2s' },
  });
  const entry = readEntries(home).find((e) => e.appId === 'metrics-app');
  if (!entry?.metricsPort) throw new Error('no metrics port registered for metrics-app');
  metricsPort = entry.metricsPort;
});

describe('dapr_runtime_actor_* metrics', () => {
  it('counts calls pending on one actor\'s turn while they wait, and none afterwards', async () => {
    const calls = [1, 2, 3].map(() => callActor(host, 'Counter', 'busy-1', 'sleep', { ms: 1500 }));
    await eventually(async () => value(await scrape(), 'dapr_runtime_actor_pending_actor_calls', counter) === 3);
    for (const c of await Promise.all(calls)) expect(c.status).toBe(200);
    expect(value(await scrape(), 'dapr_runtime_actor_pending_actor_calls', counter)).toBe(0);
  });

  it('gauges active timers and counts each timer fire', async () => {
    expect((await callActor(host, 'Counter', 'tm-1', 'get')).status).toBe(200);
    expect(await put('tm-1/timers/t', { dueTime: '0s', period: '300ms', callback: 'cb' })).toBe(204);
    await eventually(() => count('timer', (e) => e.id === 'tm-1') >= 2, 10_000);
    expect(value(await scrape(), 'dapr_runtime_actor_timers', counter)).toBe(1);
    expect((await fetch(`${host.url}/v1.0/actors/Counter/tm-1/timers/t`, { method: 'DELETE' })).status).toBe(204);
    await sleep(500); // a fire already under way finishes
    const fired = count('timer', (e) => e.id === 'tm-1');
    const m = await scrape();
    expect(value(m, 'dapr_runtime_actor_timers', counter)).toBe(0);
    expect(value(m, 'dapr_runtime_actor_timers_fired_total', { ...counter, success: 'true' })).toBe(fired);
  });

  it('gauges armed reminders and counts each reminder fire', async () => {
    expect(await put('rm-1/reminders/later', { dueTime: '1h' })).toBe(204);
    expect(await put('rm-2/reminders/twice', { dueTime: '0s', period: 'R2/PT0.5S' })).toBe(204);
    await eventually(() => count('reminder', (e) => e.id === 'rm-2') === 2, 15_000);
    await eventually(async () => value(await scrape(), 'dapr_runtime_actor_reminders', counter) === 1, 10_000); // the fired-out one is gone
    const m = await scrape();
    expect(value(m, 'dapr_runtime_actor_reminders_fired_total', { ...counter, success: 'true' })).toBe(count('reminder'));
    expect(value(m, 'dapr_runtime_actor_reminders_fired_total', { ...counter, success: 'false' })).toBeUndefined();
  });

  it('counts idle deactivations, and labels every actor series by type only', async () => {
    await eventually(() => count('deactivate') >= 3, 20_000); // busy-1, tm-1, rm-2 go idle after 2 s
    await eventually(async () => value(await scrape(), 'dapr_runtime_actor_deactivated_total', counter) === count('deactivate'), 10_000);
    const m = await scrape();
    expect(value(m, 'dapr_runtime_actor_deactivated_failed_total', counter)).toBeUndefined();
    const actorLines = m.split('\n').filter((l) => l.startsWith('dapr_runtime_actor_'));
    expect(actorLines.length).toBeGreaterThan(0);
    for (const l of actorLines) expect(l).not.toMatch(/busy-1|tm-1|rm-1|rm-2|actor_id/);
  });

  it('counts the active actors a joining host takes over as rebalanced', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `moving-${i}`);
    let pinging = true;
    const ping = (async () => {
      while (pinging) {
        await Promise.all(ids.map((id) => callActor(host, 'Counter', id, 'get')));
        await sleep(300);
      }
    })();
    try {
      await eventually(async () => count('activate', (e) => ids.includes(e.id)) === ids.length, 10_000);
      await startActorHost({ appId: 'metrics-app', home, resources: { 'store.yaml': sqliteActorStore(join(dir, 'actors.db')) }, env: { EVENTS_FILE: events, HOST_NAME: 'h2', IDLE_TIMEOUT: '2s' } });
      await eventually(async () => (value(await scrape(), 'dapr_runtime_actor_rebalanced_total', counter) ?? 0) > 0, 20_000);
    } finally {
      pinging = false;
      await ping;
    }
    const owners = await Promise.all(ids.map(async (id) => (JSON.parse((await callActor(host, 'Counter', id, 'get')).text) as { host: string }).host));
    const moved = owners.filter((h) => h === 'h2').length;
    expect(moved).toBeGreaterThan(0);
    expect(value(await scrape(), 'dapr_runtime_actor_rebalanced_total', counter)).toBe(moved);
  });
});
