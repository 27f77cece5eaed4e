// The actor API through real sidecars: a plain-HTTP actor app behind one sidecar, called from a
// second sidecar without an app (so every call crosses the internal listener to the owner).
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { callActor, readEvents, sqliteActorStore, startActorHost, NO_GRPC } from '../helpers/actors.js';
import { eventually, startSidecar, tempDir, type SidecarProc } from '../helpers/processes.js';

let host: SidecarProc;
let client: SidecarProc;
const dir = tempDir('bulwark-actors-');
const events = join(dir, 'events.jsonl');

beforeAll(async () => {
  const home = tempDir('bulwark-home-');
  host = await startActorHost({ appId: 'counter-app', home, resources: { 'store.yaml': sqliteActorStore(join(dir, 'actors.db')) }, env: { EVENTS_FILE: events, HOST_NAME: 'h1', IDLE_TIMEOUT: '2s' } });
  client = await startSidecar({ appId: 'client', home, resources: {}, args: NO_GRPC });
});


describe('actor invocation (plain HTTP app)', () => {
  it('calls methods from another sidecar with every verb, keeps state across calls, PUT to the app', async () => {
    const a = await callActor(client, 'Counter', 'c-1', 'increment');
    expect(a.status, a.text).toBe(200);
    expect(JSON.parse(a.text)).toEqual({ count: 1, host: 'h1' });
    expect(JSON.parse((await callActor(client, 'Counter', 'c-1', 'increment', undefined, 'PUT')).text).count).toBe(2);
    const g = await callActor(client, 'Counter', 'c-1', 'get', undefined, 'GET');
    expect(JSON.parse(g.text)).toMatchObject({ count: 2, method: 'PUT' }); // the app always sees PUT
    const d = await callActor(client, 'Counter', 'c-1', 'get', undefined, 'DELETE');
    expect(JSON.parse(d.text).count).toBe(2);
    // State written by the actor is readable through the API of any sidecar hosting the store.
    const st = await fetch(`${host.url}/v1.0/actors/Counter/c-1/state/count`);
    expect(st.status).toBe(200);
    expect(await st.text()).toBe('2');
    expect((await fetch(`${host.url}/v1.0/actors/Counter/c-1/state/nothing`)).status).toBe(204);
    // c-1 is active on `host`: its sidecar takes transactions with ttlInSeconds and deletes.
    const tx = await fetch(`${host.url}/v1.0/actors/Counter/c-1/state`, {
      method: 'PUT',
      body: JSON.stringify([
        { operation: 'upsert', request: { key: 'note', value: { a: 1 }, metadata: { ttlInSeconds: '3600' } } },
        { operation: 'delete', request: { key: 'nothing' } },
      ]),
    });
    expect(tx.status).toBe(204);
    const note = await fetch(`${host.url}/v1.0/actors/Counter/c-1/state/note`);
    expect(await note.json()).toEqual({ a: 1 });
    expect(note.headers.get('metadata.ttlexpiretime')).toBeTruthy();
  });

  it('hands ids percent-encoded to the app, forwards the query, stamps the caller', async () => {
    const r = await fetch(`${client.url}/v1.0/actors/Counter/a%20b%25c/method/echo?x=1`, { method: 'POST', body: 'hello', headers: { 'dapr-caller-app-id': 'spoofed' } });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ id: 'a b%c', body: 'hello', query: '?x=1', caller: 'client' });
  });

  it('turns a failing method into ERR_ACTOR_INVOKE_METHOD, and relays with X-Daprerrorresponseheader', async () => {
    const f = await callActor(client, 'Counter', 'c-2', 'fail');
    expect(f.status).toBe(500);
    expect(JSON.parse(f.text)).toEqual({ errorCode: 'ERR_ACTOR_INVOKE_METHOD', message: 'error invoke actor method: error from actor service: (500) boom' });
    const nf = await callActor(client, 'Counter', 'c-2', 'nosuch');
    expect(JSON.parse(nf.text).message).toContain('actor method not found');
    const relayed = await callActor(client, 'Counter', 'c-2', 'failRelayed');
    expect(relayed.status).toBe(418);
    expect(JSON.parse(relayed.text)).toEqual({ teapot: true });
  });

  it('refuses bad input with Dapr errors', async () => {
    const reserved = await fetch(`${client.url}/v1.0/actors/dapr.internal.default.app.workflow/x/method/m`, { method: 'POST' });
    expect(reserved.status).toBe(403);
    expect((await reserved.json()).errorCode).toBe('ERR_ACTOR_TYPE_RESERVED');
    const unknown = await callActor(client, 'Nobody', 'x', 'm');
    expect(unknown.status).toBe(500);
    expect(JSON.parse(unknown.text).message).toContain('Nobody');
    for (const bad of ['a%23b', 'a%3Fb', 'a%01b', 'a%2Fb']) {
      const r = await fetch(`${client.url}/v1.0/actors/Counter/${bad}/method/get`, { method: 'POST' });
      expect(r.status, bad).toBe(400);
      expect((await r.json()).errorCode).toBe('ERR_BAD_REQUEST');
    }
    const tx = await fetch(`${host.url}/v1.0/actors/Counter/never-active/state`, { method: 'POST', body: JSON.stringify([{ operation: 'upsert', request: { key: 'k', value: 1 } }]) });
    expect(tx.status).toBe(400);
    expect((await tx.json()).errorCode).toBe('ERR_ACTOR_INSTANCE_MISSING');
    const notHosted = await fetch(`${client.url}/v1.0/actors/Counter/x/reminders/r`, { method: 'POST', body: '{}' });
    expect(notHosted.status).toBe(403);
    expect((await notHosted.json()).errorCode).toBe('ERR_ACTOR_REMINDER_NON_HOSTED');
    const badTime = await fetch(`${host.url}/v1.0/actors/Counter/x/reminders/r`, { method: 'POST', body: JSON.stringify({ dueTime: 'soon' }) });
    expect(badTime.status).toBe(400);
    expect((await badTime.json()).message).toContain('dueTime');
    const badBody = await fetch(`${host.url}/v1.0/actors/Counter/x/reminders/r`, { method: 'POST', body: '{' });
    expect(badBody.status).toBe(400);
  });

  it('lists hosted types and active counts in the metadata', async () => {
    const md = (await (await fetch(`${host.url}/v1.0/metadata`)).json()) as { actorRuntime: { runtimeStatus: string; activeActors: Array<{ type: string; count: number }>; placement: string }; actors: unknown };
    expect(md.actorRuntime.runtimeStatus).toBe('RUNNING');
    expect(md.actorRuntime.placement).toBe('placement: connected');
    expect(md.actorRuntime.activeActors[0]!.type).toBe('Counter');
    expect(md.actors).toEqual(md.actorRuntime.activeActors);
  });

  it('deactivates idle actors with DELETE /actors/{type}/{id}', async () => {
    await callActor(client, 'Counter', 'idle-1', 'get');
    await eventually(() => readEvents(events).some((e) => e.ev === 'deactivate' && e.id === 'idle-1'), 20_000);
  });
});


describe('actor hosting without an actor state store', () => {
  it('warns at start, fails state and reminder calls clearly, notes --placement-host-address as ignored', async () => {
    const p = await startActorHost({ appId: 'no-store', home: tempDir('bulwark-home-'), resources: {}, args: ['--placement-host-address', 'localhost:50005'] });
    expect(p.output()).toMatch(/no state store has metadata actorStateStore/);
    expect(p.output()).toMatch(/--placement-host-address is accepted and ignored/);
    // Method calls still work; state does not.
    const r = await callActor(p, 'Counter', 'x', 'echo');
    expect(r.status).toBe(200);
    const st = await fetch(`${p.url}/v1.0/actors/Counter/x/state/k`);
    expect(st.status).toBe(500);
    expect(await st.json()).toMatchObject({ errorCode: 'ERR_ACTOR_STATE_GET', message: expect.stringContaining('actorStateStore') });
    const rem = await fetch(`${p.url}/v1.0/actors/Counter/x/reminders/r`, { method: 'POST', body: '{}' });
    expect(rem.status).toBe(500);
    expect((await rem.json()).errorCode).toBe('ERR_ACTOR_REMINDER_CREATE');
  });
});

describe('actor hosting discovery', () => {
  it('reads /dapr/config again when the app becomes healthy', async () => {
    const p = await startActorHost({
      appId: 'late-actors',
      home: tempDir('bulwark-home-'),
      resources: { 'store.yaml': sqliteActorStore(join(dir, 'late.db')) },
      args: ['--enable-app-health-check', '--app-health-check-path', '/healthz', '--app-health-probe-interval', '1', '--app-health-threshold', '1'],
      env: { HEALTHY_AFTER_MS: '3000' },
    });
    expect(p.output()).toMatch(/became healthy with a different actor configuration/);
    const r = await callActor(p, 'Counter', 'late-1', 'increment');
    expect(r.status, r.text).toBe(200);
    expect(JSON.parse(r.text).count).toBe(1);
  });
});
