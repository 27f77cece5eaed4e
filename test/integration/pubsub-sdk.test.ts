// The official JavaScript SDK against bulwark's pub/sub over HTTP: DaprClient publishes (single
// and bulk), a DaprServer app subscribes (plain, routed, raw payload, bulk). No resources: the
// embedded default pubsub (pubsub.sqlite) carries the messages.
import { CommunicationProtocolEnum, DaprClient } from '@dapr/dapr';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startSidecar, stopProcess, type SidecarProc } from '../helpers/processes.js';

const APP = join(ROOT, 'test/fixtures/pubsub-sdk-app.mjs');

describe('pub/sub with the official @dapr/dapr SDK (HTTP)', () => {
  let sub: SidecarProc;
  let client: DaprClient;

  beforeAll(async () => {
    sub = await startSidecar({ appId: 'sdk-sub', embeddedDefaults: true, args: ['--app-port', '0'], app: [process.execPath, APP] });
    await sub.waitFor(/SDK APP STARTED/, 60_000);
    client = new DaprClient({ daprHost: '127.0.0.1', daprPort: String(sub.httpPort), communicationProtocol: CommunicationProtocolEnum.HTTP });
    await client.start();
    // Subscriptions are live once the sidecar lists them.
    for (let i = 0; i < 200; i++) {
      const md = await client.metadata.get();
      if ((md.subscriptions ?? []).length >= 4) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    await client?.stop();
    if (sub) await stopProcess(sub);
  });

  it('uses the embedded durable pubsub by default and lists the SDK app\'s subscriptions', async () => {
    const md = await client.metadata.get();
    expect(md.components.find((c) => c.name === 'pubsub')?.type).toBe('pubsub.sqlite');
    expect(md.subscriptions.map((s) => s.topic).sort()).toEqual(['sdk-bulk', 'sdk-orders', 'sdk-raw', 'sdk-routed']);
  });

  it('publishes with DaprClient and receives with DaprServer', async () => {
    const res = await client.pubsub.publish('pubsub', 'sdk-orders', { orderId: 7 });
    expect(res.error).toBeUndefined();
    const m = await sub.waitFor(/RECEIVED sdk-orders (.*)/);
    expect(JSON.parse(m[1]!)).toEqual({ data: { orderId: 7 }, pubsubname: 'pubsub' });
  });

  it('routes by rule to the SDK\'s routes', async () => {
    await client.pubsub.publish('pubsub', 'sdk-routed', { kind: 'vip', n: 1 });
    await client.pubsub.publish('pubsub', 'sdk-routed', { kind: 'regular', n: 2 });
    expect(JSON.parse((await sub.waitFor(/RECEIVED sdk-routed-vip (.*)/))[1]!).data).toEqual({ kind: 'vip', n: 1 });
    expect(JSON.parse((await sub.waitFor(/RECEIVED sdk-routed-plain (.*)/))[1]!).data).toEqual({ kind: 'regular', n: 2 });
  });

  it('delivers raw payloads to a rawPayload subscription', async () => {
    await client.pubsub.publish('pubsub', 'sdk-raw', { raw: true }, { metadata: { rawPayload: 'true' } });
    const m = await sub.waitFor(/RECEIVED sdk-raw (.*)/);
    expect(JSON.stringify(JSON.parse(m[1]!).data)).toContain('raw');
  });

  it('bulk-publishes with DaprClient and receives a bulk subscription with DaprServer', async () => {
    const res = await client.pubsub.publishBulk('pubsub', 'sdk-bulk', [{ a: 1 }, { a: 2 }, 'three']);
    expect(res.failedMessages).toEqual([]);
    await sub.waitFor(/RECEIVED sdk-bulk[\s\S]*RECEIVED sdk-bulk[\s\S]*RECEIVED sdk-bulk/);
    const got = [...sub.output().matchAll(/RECEIVED sdk-bulk (.*)/g)].map((m) => JSON.stringify(JSON.parse(m[1]!).data));
    expect(got.join(' ')).toContain('"a":1');
    expect(got.join(' ')).toContain('"a":2');
    expect(got.join(' ')).toContain('three');
  });
});
