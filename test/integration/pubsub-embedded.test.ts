// The embedded default pub/sub with no resources at all: two apps on one machine (one
// BULWARK_HOME) talk through it, and a message published while the subscriber is down waits
// for it.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually, ROOT, startSidecar, stopProcess, tempDir, type SidecarProc } from '../helpers/processes.js';

const APP = join(ROOT, 'test/conformance/pubsub-app.mjs');

async function metadata(s: SidecarProc): Promise<{ components: Array<{ name: string; type: string }>; subscriptions: unknown[]; appConnectionProperties: { port?: number } }> {
  return (await (await fetch(`${s.url}/v1.0/metadata`)).json()) as never;
}

describe('embedded default pub/sub (pubsub.sqlite under BULWARK_HOME)', () => {
  it('carries messages between two apps on one machine and keeps them while the subscriber is down', async () => {
    const home = tempDir('bulwark-shared-home-');
    const topic = `embedded-${process.pid}`;
    const startSubscriber = async (): Promise<{ sidecar: SidecarProc; appUrl: string }> => {
      const sidecar = await startSidecar({
        appId: 'embedded-sub',
        home,
        embeddedDefaults: true,
        args: ['--app-port', '0'],
        app: [process.execPath, APP],
        env: { SUBSCRIPTIONS: JSON.stringify([{ pubsubname: 'pubsub', topic, route: '/in' }]) },
      });
      const md = await eventually(async () => {
        const m = await metadata(sidecar);
        return m.subscriptions.length > 0 ? m : undefined;
      });
      return { sidecar, appUrl: `http://127.0.0.1:${md.appConnectionProperties.port}` };
    };
    const received = async (appUrl: string): Promise<unknown[]> =>
      ((await (await fetch(`${appUrl}/control/received?path=%2Fin`)).json()) as Array<{ body: { data: unknown } }>).map((d) => d.body.data);

    const publisher = await startSidecar({ appId: 'embedded-pub', home, embeddedDefaults: true });
    expect((await metadata(publisher)).components.find((c) => c.name === 'pubsub')?.type).toBe('pubsub.sqlite');
    const send = async (value: unknown): Promise<void> => {
      const res = await fetch(`${publisher.url}/v1.0/publish/pubsub/${topic}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) });
      expect(res.status).toBe(204);
    };

    let sub = await startSubscriber();
    await send({ n: 1 });
    await eventually(async () => (await received(sub.appUrl)).length === 1);
    expect(await received(sub.appUrl)).toEqual([{ n: 1 }]);

    await stopProcess(sub.sidecar);
    await send({ n: 2 });
    sub = await startSubscriber();
    await eventually(async () => (await received(sub.appUrl)).length >= 1);
    expect(await received(sub.appUrl)).toEqual([{ n: 2 }]);

    await stopProcess(sub.sidecar);
    await stopProcess(publisher);
  });

  it('delivers with the app token, the CloudEvent content type and a trace context', async () => {
    const topic = `embedded-token-${process.pid}`;
    const sidecar = await startSidecar({
      appId: 'embedded-token',
      home: tempDir('bulwark-home-'),
      embeddedDefaults: true,
      args: ['--app-port', '0'],
      app: [process.execPath, APP],
      env: { APP_API_TOKEN: 'app-secret', SUBSCRIPTIONS: JSON.stringify([{ pubsubname: 'pubsub', topic, route: '/in' }]) },
    });
    const md = await eventually(async () => {
      const m = await metadata(sidecar);
      return m.subscriptions.length > 0 ? m : undefined;
    });
    const res = await fetch(`${sidecar.url}/v1.0/publish/pubsub/${topic}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":1}' });
    expect(res.status).toBe(204);
    const appUrl = `http://127.0.0.1:${md.appConnectionProperties.port}`;
    const got = await eventually(async () => {
      const list = (await (await fetch(`${appUrl}/control/received?path=%2Fin`)).json()) as Array<{ headers: Record<string, string>; body: { data: unknown } }>;
      return list.length > 0 ? list : undefined;
    });
    expect(got[0]!.body.data).toEqual({ n: 1 });
    expect(got[0]!.headers['dapr-api-token']).toBe('app-secret');
    expect(got[0]!.headers['content-type']).toBe('application/cloudevents+json');
    expect(got[0]!.headers.pubsubname).toBe('pubsub');
    expect(got[0]!.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    await stopProcess(sidecar);
  });
});
