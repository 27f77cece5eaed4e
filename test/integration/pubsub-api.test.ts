// The pub/sub API's answers to bad input and scoping, through a real sidecar, and start-up
// refusal of a Subscription whose routing rule cannot be evaluated.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, ROOT, startProcess, startSidecar, stopProcess, tempDir, CLI, writeFolder, type SidecarProc } from '../helpers/processes.js';

const APP = join(ROOT, 'test/conformance/pubsub-app.mjs');

function sqlitePubsub(name: string, dir: string, extra = ''): string {
  return `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: ${name}
spec:
  type: pubsub.sqlite
  version: v1
  metadata:
  - name: connectionString
    value: "${join(dir, 'pubsub.db')}"${extra}
`;
}

async function post(url: string, body: string, contentType = 'application/json'): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

describe('pub/sub API errors and scopes', () => {
  const dir = tempDir('bulwark-pubsub-api-');
  let sidecar: SidecarProc;

  beforeAll(async () => {
    const scoped = `
  - name: publishingScopes
    value: "api-app=allowed,protected"
  - name: subscriptionScopes
    value: "api-app=allowed"
  - name: protectedTopics
    value: "protected,secret"`;
    sidecar = await startSidecar({
      appId: 'api-app',
      resources: { 'a.yaml': sqlitePubsub('pubsub', dir), 'b.yaml': sqlitePubsub('scoped', dir, scoped) },
      args: ['--app-port', '0'],
      app: [process.execPath, APP],
      env: {
        SUBSCRIPTIONS: JSON.stringify([
          { pubsubname: 'scoped', topic: 'allowed', route: '/ok' },
          { pubsubname: 'scoped', topic: 'secret', route: '/secret' },
          { pubsubname: 'pubsub', topic: 'no-route' },
          { pubsubname: 'missing', topic: 'x', route: '/x' },
        ]),
      },
    });
    await eventually(async () => ((await (await fetch(`${sidecar.url}/v1.0/metadata`)).json()) as { subscriptions: unknown[] }).subscriptions.length > 0);
  });

  afterAll(async () => {
    if (sidecar) await stopProcess(sidecar);
  });

  it('answers ERR_PUBSUB_NOT_FOUND (404) for an unknown pubsub', async () => {
    const r = await post(`${sidecar.url}/v1.0/publish/nope/topic`, '{}');
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ errorCode: 'ERR_PUBSUB_NOT_FOUND', message: 'pubsub nope is not found' });
  });

  it('answers ERR_TOPIC_NAME_EMPTY (404) for an empty topic on publish and bulk publish, after the pubsub checks', async () => {
    for (const path of ['/v1.0/publish/pubsub/', '/v1.0/publish/pubsub', '/v1.0-alpha1/publish/bulk/pubsub/', '/v1.0/publish/bulk/pubsub']) {
      const r = await post(`${sidecar.url}${path}?metadata.k=v`, '[]');
      expect(r.status, path).toBe(404);
      expect(r.body, path).toMatchObject({
        errorCode: 'ERR_TOPIC_NAME_EMPTY',
        message: 'topic is empty in pubsub pubsub',
        details: [{ reason: 'DAPR_PUBSUB_TOPIC_NAME_EMPTY', domain: 'dapr.io', metadata: { k: 'v' } }],
      });
    }
    const unknown = await post(`${sidecar.url}/v1.0/publish/nope/`, '{}');
    expect(unknown.body.errorCode).toBe('ERR_PUBSUB_NOT_FOUND');
  });

  it('answers ERR_PUBSUB_REQUEST_METADATA (400) for a bad rawPayload value', async () => {
    const r = await post(`${sidecar.url}/v1.0/publish/pubsub/t?metadata.rawPayload=maybe`, '{}');
    expect(r.status).toBe(400);
    expect(r.body.errorCode).toBe('ERR_PUBSUB_REQUEST_METADATA');
  });

  it('answers ERR_PUBSUB_CLOUD_EVENTS_SER (500) for a CloudEvent body that is not JSON', async () => {
    const r = await post(`${sidecar.url}/v1.0/publish/pubsub/t`, 'not json', 'application/cloudevents+json');
    expect(r.status).toBe(500);
    expect(r.body.errorCode).toBe('ERR_PUBSUB_CLOUD_EVENTS_SER');
  });

  it('answers ERR_PUBSUB_EVENTS_SER (400) for a bulk body that is not an array', async () => {
    const r = await post(`${sidecar.url}/v1.0-alpha1/publish/bulk/pubsub/t`, '{"entryId":"1"}');
    expect(r.status).toBe(400);
    expect(r.body.errorCode).toBe('ERR_PUBSUB_EVENTS_SER');
  });

  it('enforces publishingScopes and protectedTopics with ERR_PUBSUB_FORBIDDEN (403)', async () => {
    expect((await post(`${sidecar.url}/v1.0/publish/scoped/allowed`, '{}')).status).toBe(204);
    expect((await post(`${sidecar.url}/v1.0/publish/scoped/protected`, '{}')).status).toBe(204);
    for (const topic of ['other', 'secret']) {
      const r = await post(`${sidecar.url}/v1.0/publish/scoped/${topic}`, '{}');
      expect(r.status).toBe(403);
      expect(r.body).toMatchObject({ errorCode: 'ERR_PUBSUB_FORBIDDEN', message: `topic ${topic} is not allowed for app id api-app` });
    }
  });

  it('subscribes only where subscriptionScopes allow, and names the subscriptions it could not load', async () => {
    const md = (await (await fetch(`${sidecar.url}/v1.0/metadata`)).json()) as { subscriptions: Array<{ pubsubname: string; topic: string; type: string }> };
    expect(md.subscriptions.map((s) => `${s.pubsubname}/${s.topic}/${s.type}`)).toEqual(['scoped/allowed/PROGRAMMATIC']);
    const out = sidecar.output();
    expect(out).toMatch(/subscription pubsub\/no-route: no route/);
    expect(out).toMatch(/subscription missing\/x: pubsub missing is not loaded/);
    expect(out).toMatch(/subscription scoped\/secret: topic secret is not allowed for app id api-app/);
  });
});

describe('pub/sub start-up checks', () => {
  it('answers ERR_PUBSUB_NOT_CONFIGURED (400) when no pubsub is loaded', async () => {
    const s = await startSidecar({ appId: 'bare', resources: {} });
    const r = await post(`${s.url}/v1.0/publish/pubsub/t`, '{}');
    expect(r.status).toBe(400);
    expect(r.body.errorCode).toBe('ERR_PUBSUB_NOT_CONFIGURED');
    await stopProcess(s);
  });

  it('refuses to start with a Subscription rule it cannot evaluate, naming file, field and subscription', async () => {
    const dir = tempDir('bulwark-pubsub-bad-');
    const folder = writeFolder({
      'pubsub.yaml': sqlitePubsub('pubsub', dir),
      'sub.yaml': `apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: bad-rules
spec:
  pubsubname: pubsub
  topic: orders
  routes:
    rules:
    - match: event.data.items.exists(i, i.price > 100)
      path: /expensive
    default: /orders
`,
    });
    const p = startProcess(process.execPath, [CLI, 'sidecar', '--app-id', 'bad', '--dapr-http-port', '0', '--metrics-port', '0', '--resources-path', folder], { env: { BULWARK_HOME: tempDir() } });
    const exit = await p.exited;
    expect(exit.code).toBe(1);
    expect(p.output()).toMatch(/sub\.yaml, document 1, field spec\.routes\.rules\[0\]\.match: subscription bad-rules: rule 0 .*macro exists\(\) is not supported/);
  });
});
