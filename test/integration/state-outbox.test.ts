// The transactional outbox through a real sidecar and a real subscriber app: a committed
// transaction's upserts arrive as CloudEvents on the configured topic and their markers are
// cleaned up; a failed transaction publishes nothing (its internal event is discarded once
// the marker never appears).
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ROOT, eventually, startSidecar, tempDir } from '../helpers/processes.js';

const APP = join(ROOT, 'test/conformance/pubsub-app.mjs');

const resources = (db: string): Record<string, string> => ({
  'components.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: pubsub
spec:
  type: pubsub.in-memory
  version: v1
  metadata: []
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: orders-store
spec:
  type: state.sqlite
  version: v1
  metadata:
  - name: connectionString
    value: "${db}"
  - name: outboxPublishPubsub
    value: pubsub
  - name: outboxPublishTopic
    value: orders
  - name: outboxDiscardWhenMissingState
    value: "true"
`,
});

interface Delivery {
  path: string;
  body: { id: string; topic: string; pubsubname: string; source: string; type: string; datacontenttype: string; data: unknown };
}

describe('state transactional outbox', () => {
  it('publishes committed upserts to the topic, cleans up markers, and publishes nothing for a failed transaction', async () => {
    const db = join(tempDir('bulwark-outbox-'), 'state.db');
    const sc = await startSidecar({
      appId: 'shop',
      resources: resources(db),
      args: ['--app-port', '0'],
      app: [process.execPath, APP],
      env: { SUBSCRIPTIONS: JSON.stringify([{ pubsubname: 'pubsub', topic: 'orders', route: '/orders' }]) },
    });
    const meta = await eventually(async () => {
      const m = (await (await fetch(`${sc.url}/v1.0/metadata`)).json()) as { appConnectionProperties?: { port?: number }; subscriptions?: unknown[] };
      return m.appConnectionProperties?.port && (m.subscriptions?.length ?? 0) > 0 ? m : undefined;
    });
    const received = async (): Promise<Delivery[]> =>
      (await (await fetch(`http://127.0.0.1:${meta.appConnectionProperties!.port}/control/received?path=/orders`)).json()) as Delivery[];
    const tx = (body: unknown): Promise<Response> =>
      fetch(`${sc.url}/v1.0/state/orders-store/transaction`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

    const ok = await tx({
      operations: [
        { operation: 'upsert', request: { key: 'order-1', value: { id: 1, item: 'book' }, metadata: { contentType: 'application/json' } } },
        { operation: 'upsert', request: { key: 'order-2', value: 'plain note' } },
        { operation: 'delete', request: { key: 'order-0' } },
      ],
    });
    expect(ok.status).toBe(204);
    const events = await eventually(async () => {
      const r = await received();
      return r.length >= 2 ? r : undefined;
    }, 30_000, 200);
    const byData = new Map(events.map((e) => [JSON.stringify(e.body.data), e.body]));
    const json = byData.get(JSON.stringify({ id: 1, item: 'book' }))!;
    expect(json).toMatchObject({ topic: 'orders', pubsubname: 'pubsub', source: 'shop', type: 'com.dapr.event.sent', datacontenttype: 'application/json' });
    expect(json.id).toMatch(/^outbox-/);
    expect(byData.get(JSON.stringify('plain note'))).toMatchObject({ datacontenttype: 'text/plain' });

    // The state itself committed, and the markers are removed once their events went out.
    expect(await (await fetch(`${sc.url}/v1.0/state/orders-store/order-1`)).json()).toEqual({ id: 1, item: 'book' });
    await eventually(() => {
      const raw = new Database(db, { readonly: true });
      const n = (raw.prepare(`SELECT count(*) AS n FROM state WHERE key LIKE 'outbox-%'`).get() as { n: number }).n;
      raw.close();
      return n === 0;
    }, 30_000, 200);

    // A transaction that fails commits no marker: its event is never published.
    const failed = await tx({
      operations: [
        { operation: 'upsert', request: { key: 'order-3', value: 'never published' } },
        { operation: 'upsert', request: { key: 'order-1', value: 'x', etag: 'stale' } },
      ],
    });
    expect(failed.status).toBe(500);
    await sc.waitFor(/outbox state not found, discarding message/, 40_000);
    expect((await received()).map((e) => e.body.data)).not.toContain('never published');
    expect((await fetch(`${sc.url}/v1.0/state/orders-store/order-3`)).status).toBe(204);
  });
});
