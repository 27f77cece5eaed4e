// Durable reminders and in-memory timers through a real sidecar and the plain-HTTP actor app:
// periodic, one-shot and R<n> reminders, delete, X-Daprremindercancel, firing again after the
// sidecar restarts (also a reminder that fell due while it was down); timers fire and stop.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readEvents, sqliteActorStore, startActorHost } from '../helpers/actors.js';
import { eventually, stopProcess, tempDir, type SidecarProc } from '../helpers/processes.js';

const dir = tempDir('bulwark-reminders-');
const events = join(dir, 'events.jsonl');
const home = tempDir('bulwark-home-');
const resources = { 'store.yaml': sqliteActorStore(join(dir, 'actors.db')) };
let host: SidecarProc;

const start = (): Promise<SidecarProc> => startActorHost({ appId: 'rem-app', home, resources, env: { EVENTS_FILE: events, HOST_NAME: 'h1' } });
const fires = (id: string, ev: 'reminder' | 'timer' = 'reminder'): number => readEvents(events).filter((e) => e.ev === ev && e.id === id).length;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function put(path: string, body: unknown): Promise<Response> {
  return fetch(`${host.url}/v1.0/actors/Counter/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

beforeAll(async () => {
  host = await start();
});

describe('reminders', () => {
  it('fire periodically with their data, can be read back, and stop on delete', async () => {
    expect((await put('r-1/reminders/tick', { dueTime: '0h0m1s0ms', period: '1s', data: { n: 7 } })).status).toBe(204);
    await eventually(() => fires('r-1') >= 2, 15_000);
    const ev = readEvents(events).find((e) => e.ev === 'reminder' && e.id === 'r-1')!;
    expect(ev.name).toBe('tick');
    expect(ev.body).toEqual({ dueTime: '0h0m1s0ms', period: '1s', data: { n: 7 } });
    const got = await fetch(`${host.url}/v1.0/actors/Counter/r-1/reminders/tick`);
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual({ actorID: 'r-1', actorType: 'Counter', data: { n: 7 }, dueTime: '0h0m1s0ms', period: '1s' });
    expect((await fetch(`${host.url}/v1.0/actors/Counter/r-1/reminders/tick`, { method: 'DELETE' })).status).toBe(204);
    await sleep(300); // a fire already claimed may still land
    const after = fires('r-1');
    await sleep(2_500);
    expect(fires('r-1')).toBe(after);
    const gone = await fetch(`${host.url}/v1.0/actors/Counter/r-1/reminders/tick`);
    expect(gone.status).toBe(404);
    expect((await gone.json()).errorCode).toBe('ERR_ACTOR_REMINDER_NOT_FOUND');
  });

  it('fire once without a period, 3 times with R3/PT0.5S, and refuse overwrite: false on an existing name', async () => {
    expect((await put('r-2/reminders/once', { dueTime: 'PT1S' })).status).toBe(204);
    expect((await put('r-3/reminders/three', { dueTime: '0', period: 'R3/PT0.5S' })).status).toBe(204);
    await eventually(() => fires('r-2') === 1 && fires('r-3') === 3, 15_000);
    await sleep(2_000);
    expect(fires('r-2')).toBe(1);
    expect(fires('r-3')).toBe(3);
    expect((await put('r-4/reminders/x', { dueTime: '1h' })).status).toBe(204);
    const dup = await put('r-4/reminders/x', { dueTime: '1h', overwrite: false });
    expect(dup.status).toBe(409);
    expect((await dup.json()).errorCode).toBe('ERR_ACTOR_REMINDER_ALREADY_EXISTS');
  });

  it('stop when the app answers X-Daprremindercancel', async () => {
    expect((await put('r-5/reminders/c', { dueTime: '0s', period: '500ms', data: { cancelAfterFirst: true } })).status).toBe(204);
    await eventually(() => fires('r-5') === 1, 10_000);
    await sleep(2_000);
    expect(fires('r-5')).toBe(1);
    expect((await fetch(`${host.url}/v1.0/actors/Counter/r-5/reminders/c`)).status).toBe(404);
  });

  it('retry a failed fire per failure_policy: constant up to maxRetries, drop, and none', async () => {
    const policy = (maxRetries: number) => ({ constant: { interval: '200ms', maxRetries } });
    // The app fails the first `failTimes` fires of each reminder.
    expect((await put('f-1/reminders/gives-up', { dueTime: '0s', data: { failTimes: 5 }, failure_policy: policy(2) })).status).toBe(204);
    expect((await put('f-2/reminders/recovers', { dueTime: '0s', data: { failTimes: 2 }, failure_policy: policy(5) })).status).toBe(204);
    expect((await put('f-3/reminders/dropped', { dueTime: '0s', data: { failTimes: 5 }, failure_policy: { drop: {} } })).status).toBe(204);
    expect((await put('f-4/reminders/plain', { dueTime: '0s', data: { failTimes: 5 } })).status).toBe(204);
    expect((await put('f-5/reminders/periodic', { dueTime: '0s', period: 'R2/PT1S', data: { failTimes: 1 }, failure_policy: policy(3) })).status).toBe(204);
    await eventually(() => fires('f-1') === 3 && fires('f-2') === 3 && fires('f-3') === 1 && fires('f-4') === 1 && fires('f-5') === 3, 15_000);
    await sleep(2_000);
    expect([fires('f-1'), fires('f-2'), fires('f-3'), fires('f-4'), fires('f-5')]).toEqual([3, 3, 1, 1, 3]);
    for (const [id, name] of [['f-1', 'gives-up'], ['f-2', 'recovers'], ['f-5', 'periodic']]) {
      expect((await fetch(`${host.url}/v1.0/actors/Counter/${id}/reminders/${name}`)).status, id).toBe(404);
    }
    const bad = await put('f-6/reminders/bad', { dueTime: '1h', failure_policy: { constant: { interval: 'soon' } } });
    expect(bad.status).toBe(400);
    expect((await bad.json()).errorCode).toBe('ERR_MALFORMED_REQUEST');
  });

  it('fire again after the sidecar restarts, including one that fell due while it was down', async () => {
    expect((await put('r-6/reminders/keep', { dueTime: '0s', period: '1s' })).status).toBe(204);
    expect((await put('r-7/reminders/later', { dueTime: '2s' })).status).toBe(204);
    await eventually(() => fires('r-6') >= 1, 10_000);
    await stopProcess(host);
    const before6 = fires('r-6');
    expect(fires('r-7')).toBe(0);
    await sleep(3_000);
    host = await start();
    await eventually(() => fires('r-6') >= before6 + 2 && fires('r-7') === 1, 20_000);
  });
});

describe('timers', () => {
  it('fire with their callback and data, stop on delete and on X-Daprremindercancel', async () => {
    // A timer belongs to an actor active here.
    await fetch(`${host.url}/v1.0/actors/Counter/t-1/method/get`, { method: 'POST' });
    expect((await put('t-1/timers/tm', { dueTime: '0s', period: '300ms', callback: 'onTick', data: 'd' })).status).toBe(204);
    await eventually(() => fires('t-1', 'timer') >= 2, 10_000);
    const ev = readEvents(events).find((e) => e.ev === 'timer' && e.id === 't-1')!;
    expect(ev.body).toEqual({ callback: 'onTick', dueTime: '0s', period: '300ms', data: 'd' });
    expect((await fetch(`${host.url}/v1.0/actors/Counter/t-1/timers/tm`, { method: 'DELETE' })).status).toBe(204);
    await sleep(400);
    const after = fires('t-1', 'timer');
    await sleep(1_500);
    expect(fires('t-1', 'timer')).toBe(after);
    expect((await put('t-1/timers/c', { dueTime: '0s', period: '200ms', callback: 'cb', data: { cancelAfterFirst: true } })).status).toBe(204);
    await eventually(() => readEvents(events).filter((e) => e.ev === 'timer' && e.name === 'c').length === 1, 10_000);
    await sleep(1_000);
    expect(readEvents(events).filter((e) => e.ev === 'timer' && e.name === 'c').length).toBe(1);
  });
});
