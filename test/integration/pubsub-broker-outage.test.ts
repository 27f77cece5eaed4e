// A networked broker going away under a running sidecar: publishes answer 500 with Dapr's
// ERR_PUBSUB_PUBLISH_MESSAGE and a message that says the broker is unreachable; when it comes
// back, the sidecar publishes again and its subscription delivers again, with no restart. The
// outage is a loopback forwarder cut in front of the real local service.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../cli/free-port.js';
import { cleanupBroker, type BrokerType } from '../helpers/broker-cleanup.js';
import { eventually, ROOT, startProcess, startSidecar, stopProcess } from '../helpers/processes.js';
import { serviceAvailable, SERVICES, type ServiceName } from '../helpers/services.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

const CASES: Array<{ type: BrokerType; service: ServiceName; metadata(port: number): Record<string, string> }> = [
  { type: 'pubsub.redis', service: 'redis', metadata: (port) => ({ redisHost: `127.0.0.1:${port}` }) },
  { type: 'pubsub.jetstream', service: 'nats', metadata: (port) => ({ natsURL: `nats://127.0.0.1:${port}` }) },
  { type: 'pubsub.rabbitmq', service: 'rabbitmq', metadata: (port) => ({ connectionString: `amqp://guest:guest@127.0.0.1:${port}`, reconnectWaitSeconds: '1' }) },
  { type: 'pubsub.mqtt3', service: 'mqtt', metadata: (port) => ({ url: `tcp://127.0.0.1:${port}` }) },
];

const APP = join(ROOT, 'test/conformance/pubsub-app.mjs');

function componentYaml(type: string, md: Record<string, string>): string {
  const items = Object.entries(md).map(([k, v]) => `\n  - name: ${k}\n    value: "${v}"`).join('');
  return `apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: broker\nspec:\n  type: ${type}\n  version: v1\n  metadata:${items}\n`;
}

for (const c of CASES) {
  const up = await serviceAvailable(c.service);
  describe.skipIf(!up)(`${c.type} outage through a sidecar`, () => {
    const run = randomUUID().slice(0, 8);
    const topic = `bw-outage-${run}`;
    const appId = `bw-outage-${run}`;
    afterAll(async () => {
      await cleanupBroker(c.type, [topic], { queues: [`${appId}-${topic}`], clientIds: [appId] }).catch(() => undefined);
    });

    it('answers 500 ERR_PUBSUB_PUBLISH_MESSAGE while the broker is unreachable, then publishes and delivers again', async () => {
      const proxy = await startTcpProxy(SERVICES[c.service]);
      const appPort = await freePort();
      const app = startProcess(process.execPath, [APP], {
        env: { APP_PORT: String(appPort), SUBSCRIPTIONS: JSON.stringify([{ pubsubname: 'broker', topic, route: '/in' }]) },
      });
      await app.waitFor(/listening/);
      const sidecar = await startSidecar({ appId, resources: { 'broker.yaml': componentYaml(c.type, c.metadata(proxy.port)) }, args: ['--app-port', String(appPort)] });
      const publish = (n: number): Promise<Response> =>
        fetch(`${sidecar.url}/v1.0/publish/broker/${topic}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n }) });
      const delivered = async (): Promise<number[]> => {
        const r = (await (await fetch(`http://127.0.0.1:${appPort}/control/received?path=%2Fin`)).json()) as Array<{ body: { data: { n: number } } }>;
        return r.map((d) => d.body.data.n);
      };

      // The subscription is made once the app is ready; publish until the first one arrives.
      await eventually(async () => {
        expect((await publish(1)).status).toBe(204);
        return (await delivered()).includes(1);
      }, 30_000, 500);

      await proxy.cut();
      const failed = await eventually(async () => {
        const res = await publish(2);
        return res.status === 204 ? undefined : res;
      }, 20_000, 100);
      expect(failed.status).toBe(500);
      const body = (await failed.json()) as { errorCode: string; message: string };
      expect(body.errorCode).toBe('ERR_PUBSUB_PUBLISH_MESSAGE');
      expect(body.message).toMatch(/unreachable/);

      // Bulk publish (native for Redis, RabbitMQ and JetStream, per entry for MQTT) names every
      // entry it could not publish.
      const bulk = (ns: number[]): Promise<Response> =>
        fetch(`${sidecar.url}/v1.0-alpha1/publish/bulk/broker/${topic}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(ns.map((n) => ({ entryId: `e${n}`, event: { n }, contentType: 'application/json' }))),
        });
      const bulkFailed = await bulk([10, 11, 12]);
      expect(bulkFailed.status).toBe(500);
      const bulkBody = (await bulkFailed.json()) as { errorCode: string; failedEntries: Array<{ entryId: string; error: string }> };
      expect(bulkBody.errorCode).toBe('ERR_PUBSUB_PUBLISH_MESSAGE');
      expect(bulkBody.failedEntries.map((e) => e.entryId).sort()).toEqual(['e10', 'e11', 'e12']);
      for (const e of bulkBody.failedEntries) expect(e.error).toMatch(/error when publish to topic .* unreachable/);

      await proxy.restore();
      await eventually(async () => (await publish(3)).status === 204, 30_000, 250);
      await eventually(async () => (await delivered()).includes(3), 30_000);
      expect((await bulk([20, 21, 22])).status).toBe(204);
      await eventually(async () => {
        const got = await delivered();
        return [20, 21, 22].every((n) => got.includes(n));
      }, 30_000);
      await stopProcess(sidecar);
      await stopProcess(app);
    }, 120_000);
  });
}
