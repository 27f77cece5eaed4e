// One pub/sub suite, run unchanged against every broker in BROKERS: real sidecars (`bulwark
// run` / `bulwark sidecar`), real subscriber apps (pubsub-app.mjs), real brokers. A broker's
// entry says what it can do; flows it cannot support (e.g. two processes on an in-process bus)
// are not run for it, and the reason is in its entry.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, ROOT, startProcess, startSidecar, stopProcess, tempDir, type SidecarProc } from '../helpers/processes.js';
import { serviceAvailable, type ServiceName } from '../helpers/services.js';

interface BrokerCase {
  type: string;
  /** Local service the broker needs (the suite skips visibly when it is down). */
  service?: ServiceName;
  /** `spec.metadata` items (YAML list lines) for the component named `pubsub`. */
  metadata(dir: string): string;
  /** Separate sidecar processes share it (fan-out, competing consumers, kill -9). */
  crossProcess: boolean;
  /** Messages wait for a consumer group whose sidecar is down, and survive a kill -9. */
  durable: boolean;
  /** Flows this broker cannot run as written, each with the reason. */
  unsupported?: Partial<Record<'competing' | 'redelivery', string>>;
  /** Publishes a batch natively (and declares Dapr's BULK_PUBSUB capability). */
  nativeBulk: boolean;
  /**
   * What reaches a subscriber of a binary-mode message (raw publish, application/octet-stream):
   * the content type and the `ce_*` metadata ('attributes'), the content type only, or nothing
   * that marks it binary ('none': it is then not a CloudEvent, as with Dapr's brokers).
   */
  binaryMode: 'attributes' | 'contentType' | 'none';
}

const item = (name: string, value: string): string => `\n  - name: ${name}\n    value: "${value}"`;

const BROKERS: BrokerCase[] = [
  // In one process only, like Dapr's: two sidecars cannot talk through it, and nothing survives.
  {
    type: 'pubsub.in-memory',
    metadata: () => '[]',
    crossProcess: false,
    durable: false,
    unsupported: { redelivery: 'a failed handler loses the message, as in Dapr: there is no broker to redeliver it' },
    nativeBulk: false,
    binaryMode: 'attributes',
  },
  {
    type: 'pubsub.sqlite',
    metadata: (dir) => item('connectionString', join(dir, 'pubsub.db')) + item('pollInterval', '20ms'),
    crossProcess: true,
    durable: true,
    // Publishes of one event-loop turn already share one transaction.
    nativeBulk: false,
    binaryMode: 'attributes',
  },
  {
    type: 'pubsub.redis',
    service: 'redis',
    metadata: () => item('redisHost', '127.0.0.1:6379') + item('processingTimeout', '2s') + item('redeliverInterval', '500'),
    crossProcess: true,
    durable: true,
    nativeBulk: true,
    // The stream entry keeps the publish metadata, `content-type` included.
    binaryMode: 'attributes',
  },
  {
    type: 'pubsub.jetstream',
    service: 'nats',
    metadata: () => item('natsURL', 'nats://127.0.0.1:4222') + item('ackWait', '2s'),
    crossProcess: true,
    durable: true,
    nativeBulk: true,
    binaryMode: 'contentType',
  },
  {
    type: 'pubsub.rabbitmq',
    service: 'rabbitmq',
    // Queues that outlive their consumer, so a killed subscriber's messages wait for it.
    metadata: () => item('connectionString', 'amqp://guest:guest@127.0.0.1:5672') + item('durable', 'true') + item('deletedWhenUnused', 'false') + item('deliveryMode', '2'),
    crossProcess: true,
    durable: true,
    nativeBulk: true,
    binaryMode: 'contentType',
  },
  {
    type: 'pubsub.mqtt3',
    service: 'mqtt',
    // Client id = consumerID, one connection per id on the broker: per-run ids keep concurrent
    // runs (and sessions left by earlier runs) from taking over each other's connections.
    metadata: () => item('url', 'tcp://127.0.0.1:1883') + item('qos', '1') + item('consumerID', `{appID}-${process.pid}`),
    crossProcess: true,
    durable: true,
    unsupported: {
      competing: 'MQTT allows one connection per client id (= consumerID), so instances of one app need their own consumerIDs and $share/ topics, as in Dapr',
    },
    nativeBulk: false,
    binaryMode: 'none',
  },
];

const APP = join(ROOT, 'test/conformance/pubsub-app.mjs');

function componentYaml(b: BrokerCase, dir: string): string {
  const md = b.metadata(dir);
  return `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: pubsub
spec:
  type: ${b.type}
  version: v1
  metadata:${md === '[]' ? ' []' : md}
`;
}

// App ids are unique per run: several runs may share a broker, and MQTT allows one connection
// per client id (= consumerID = app id).
const RUN = process.pid.toString(36);
const appId = (name: string): string => `${name}-${RUN}`;

let topicCounter = 0;
function uniqueTopic(name: string): string {
  return `${name}-${process.pid}-${++topicCounter}-${randomBytes(3).toString('hex')}`;
}

interface Sub {
  pubsubname: string;
  topic: string;
  route?: string;
  routes?: { rules?: Array<{ match: string; path: string }>; default?: string };
  metadata?: Record<string, string>;
  deadLetterTopic?: string;
  bulkSubscribe?: { enabled: boolean; maxMessagesCount?: number; maxAwaitDurationMs?: number };
}

interface Delivery {
  path: string;
  headers: Record<string, string>;
  body: Record<string, unknown> & { entries?: Array<Record<string, unknown>> };
}

interface AppHandle {
  sidecar: SidecarProc;
  appUrl: string;
  received(path?: string): Promise<Delivery[]>;
  stop(): Promise<void>;
}

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  return (await res.json()) as T;
}

async function subscriptionsOf(sidecar: SidecarProc): Promise<Array<{ topic: string }>> {
  return (await json<{ subscriptions?: Array<{ topic: string }> }>(`${sidecar.url}/v1.0/metadata`)).subscriptions ?? [];
}

/** Waits until the sidecar reports a subscription for every topic in `topics`. */
async function waitSubscribed(sidecar: SidecarProc, topics: string[]): Promise<void> {
  await eventually(async () => {
    const subs = await subscriptionsOf(sidecar);
    return topics.every((t) => subs.some((s) => s.topic === t));
  }, 30_000);
}

interface AppStart {
  appId: string;
  resources: Record<string, string>;
  subs?: Sub[];
  behavior?: Record<string, unknown>;
  /** Topics to wait for (default: every topic in subs). */
  waitTopics?: string[];
}

async function startApp(s: AppStart): Promise<AppHandle> {
  const sidecar = await startSidecar({
    appId: s.appId,
    resources: s.resources,
    args: ['--app-port', '0'],
    app: [process.execPath, APP],
    env: { SUBSCRIPTIONS: JSON.stringify(s.subs ?? []), BEHAVIOR: JSON.stringify(s.behavior ?? {}) },
  });
  const meta = await eventually(async () => {
    const m = await json<{ appConnectionProperties?: { port?: number } }>(`${sidecar.url}/v1.0/metadata`);
    return m.appConnectionProperties?.port ? m : undefined;
  });
  const appUrl = `http://127.0.0.1:${meta.appConnectionProperties!.port}`;
  await waitSubscribed(sidecar, s.waitTopics ?? (s.subs ?? []).map((x) => x.topic));
  return {
    sidecar,
    appUrl,
    received: (path) => json<Delivery[]>(`${appUrl}/control/received${path ? `?path=${encodeURIComponent(path)}` : ''}`),
    stop: () => stopProcess(sidecar),
  };
}

async function publish(sidecar: SidecarProc, topic: string, body: string | Buffer, opts: { contentType?: string; query?: string; headers?: Record<string, string>; pubsub?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.contentType) headers['content-type'] = opts.contentType;
  return fetch(`${sidecar.url}/v1.0/publish/${opts.pubsub ?? 'pubsub'}/${topic}${opts.query ? `?${opts.query}` : ''}`, { method: 'POST', headers, body });
}

async function publishJson(sidecar: SidecarProc, topic: string, value: unknown, query?: string): Promise<void> {
  const res = await publish(sidecar, topic, JSON.stringify(value), { contentType: 'application/json', ...(query ? { query } : {}) });
  expect(res.status, await res.clone().text()).toBe(204);
}

const dataOf = (d: Delivery): Record<string, unknown> => d.body.data as Record<string, unknown>;

for (const broker of BROKERS) {
  const up = broker.service ? await serviceAvailable(broker.service) : true;

  describe.skipIf(!up)(`pub/sub conformance: ${broker.type}`, () => {
    const dir = tempDir('bulwark-pubsub-');
    const resources = { 'pubsub.yaml': componentYaml(broker, dir) };
    let publisher: SidecarProc | undefined;

    beforeAll(async () => {
      if (broker.crossProcess) publisher = await startSidecar({ appId: appId('publisher'), resources });
    });
    afterAll(async () => {
      if (publisher) await stopProcess(publisher);
    });

    /** Where tests publish from: another sidecar when the broker crosses processes, else the subscriber's. */
    const from = (sub: AppHandle): SidecarProc => publisher ?? sub.sidecar;

    it('round-trips JSON, text, binary and app-supplied CloudEvents with Dapr envelope fields', async () => {
      const topic = uniqueTopic('orders');
      const app = await startApp({ appId: appId('rt-sub'), resources, subs: [{ pubsubname: 'pubsub', topic, route: 'orders' }] });
      const pub = from(app);
      const pubId = appId(publisher ? 'publisher' : 'rt-sub');
      await publishJson(pub, topic, { orderId: 1, big: 12345678901234567890 });
      expect((await publish(pub, topic, 'plain words', { contentType: 'text/plain' })).status).toBe(204);
      expect((await publish(pub, topic, Buffer.from([0, 1, 2, 250]), { contentType: 'application/octet-stream' })).status).toBe(204);
      const ce = { specversion: '1.0', id: 'my-own-id', source: 'me', type: 'my.type', datacontenttype: 'application/json', data: { own: true } };
      expect((await publish(pub, topic, JSON.stringify(ce), { contentType: 'application/cloudevents+json' })).status).toBe(204);

      const got = await eventually(async () => {
        const r = await app.received('/orders');
        return new Set(r.map((d) => d.body.id)).size >= 4 ? r : undefined;
      });
      const byType = (ct: string): Delivery => got.find((d) => d.body.datacontenttype === ct)!;

      const j = byType('application/json');
      expect(j.headers['content-type']).toBe('application/cloudevents+json');
      expect(j.headers.pubsubname).toBe('pubsub');
      expect(j.body).toMatchObject({ specversion: '1.0', source: pubId, type: 'com.dapr.event.sent', topic, pubsubname: 'pubsub', data: { orderId: 1 } });
      expect(j.body.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(j.body.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(j.body.traceid).toBe(j.body.traceparent);
      expect(j.body.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
      expect(j.body).toHaveProperty('tracestate');

      expect(byType('text/plain').body.data).toBe('plain words');
      const bin = byType('application/octet-stream');
      expect(bin.body.data_base64).toBe(Buffer.from([0, 1, 2, 250]).toString('base64'));
      expect(bin.body).not.toHaveProperty('data');

      const own = got.find((d) => d.body.id === 'my-own-id')!;
      expect(own.body).toMatchObject({ source: 'me', type: 'my.type', topic, pubsubname: 'pubsub', data: { own: true } });
      expect(own.body.traceparent).toMatch(/^00-/);
      await app.stop();
    });

    it('delivers raw payloads wrapped in a synthetic CloudEvent with data_base64', async () => {
      const topic = uniqueTopic('raw');
      const app = await startApp({ appId: appId('raw-sub'), resources, subs: [{ pubsubname: 'pubsub', topic, route: '/raw', metadata: { rawPayload: 'true' } }] });
      const res = await publish(from(app), topic, 'not a cloud event', { contentType: 'text/plain', query: 'metadata.rawPayload=true' });
      expect(res.status).toBe(204);
      const [d] = await eventually(async () => {
        const r = await app.received('/raw');
        return r.length > 0 ? r : undefined;
      });
      expect(d!.headers['content-type']).toBe('application/cloudevents+json');
      expect(d!.body).toMatchObject({ specversion: '1.0', datacontenttype: 'application/octet-stream', source: 'Dapr', type: 'com.dapr.event.sent', topic, pubsubname: 'pubsub' });
      expect(Buffer.from(d!.body.data_base64 as string, 'base64').toString()).toBe('not a cloud event');
      await app.stop();
    });

    it.skipIf(!broker.crossProcess)('fans out: two apps each receive every message', async () => {
      const topic = uniqueTopic('fan');
      const subs = [{ pubsubname: 'pubsub', topic, route: '/fan' }];
      const [a, b] = await Promise.all([startApp({ appId: appId('fan-a'), resources, subs }), startApp({ appId: appId('fan-b'), resources, subs })]);
      for (let i = 0; i < 10; i++) await publishJson(publisher!, topic, { n: i });
      for (const app of [a!, b!]) {
        const got = await eventually(async () => {
          const r = await app.received('/fan');
          return new Set(r.map((d) => dataOf(d).n)).size === 10 ? r : undefined;
        });
        expect(new Set(got.map((d) => dataOf(d).n))).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
      }
      await Promise.all([a!.stop(), b!.stop()]);
    });

    it.skipIf(!broker.crossProcess || !!broker.unsupported?.competing)('shares one app id\'s messages between its instances (competing consumers)', async () => {
      const topic = uniqueTopic('compete');
      const subs = [{ pubsubname: 'pubsub', topic, route: '/work' }];
      const behavior = { '/work': { delayMs: 30 } };
      const [a, b] = await Promise.all([startApp({ appId: appId('worker'), resources, subs, behavior }), startApp({ appId: appId('worker'), resources, subs, behavior })]);
      const total = 60;
      await Promise.all(Array.from({ length: total }, (_, i) => publishJson(publisher!, topic, { n: i })));
      const seen = await eventually(async () => {
        const ra = (await a!.received('/work')).map((d) => dataOf(d).n as number);
        const rb = (await b!.received('/work')).map((d) => dataOf(d).n as number);
        return new Set([...ra, ...rb]).size === total ? { ra, rb } : undefined;
      }, 30_000);
      expect(seen.ra.length).toBeGreaterThan(0);
      expect(seen.rb.length).toBeGreaterThan(0);
      // Each message went to one instance (at-least-once allows a rare duplicate, not a copy each).
      expect(seen.ra.length + seen.rb.length).toBeLessThan(total * 2);
      await Promise.all([a!.stop(), b!.stop()]);
    });

    it('routes by CEL rules from a declarative v2alpha1 Subscription and lists it in metadata', async () => {
      const topic = uniqueTopic('routed');
      const subYaml = `apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: routed-sub
spec:
  pubsubname: pubsub
  topic: ${topic}
  routes:
    rules:
    - match: has(event.data.kind) && event.data.kind == "a"
      path: /a
    - match: has(event.data.n) && event.data.n > 10 && event.data.tag in ["x", "y"]
      path: /big
    - match: has(event.data.name) && event.data.name.startsWith("pre") && !event.data.name.endsWith("x") && size(event.data.name) < 10
      path: /named
    default: /other
scopes:
- ${appId('routed')}
`;
      const app = await startApp({ appId: appId('routed'), resources: { ...resources, 'sub.yaml': subYaml }, waitTopics: [topic] });
      const pub = from(app);
      await publishJson(pub, topic, { kind: 'a' });
      await publishJson(pub, topic, { n: 11, tag: 'y' });
      await publishJson(pub, topic, { n: 11, tag: 'z' });
      await publishJson(pub, topic, { name: 'preface' });
      await publishJson(pub, topic, { name: 'prefix-x' });
      // At-least-once: a redelivered duplicate must not stand in for a missing event.
      const all = await eventually(async () => {
        const r = await app.received();
        const unique = [...new Map(r.map((d) => [d.body.id, d])).values()];
        return unique.length >= 5 ? unique : undefined;
      });
      const paths = (p: string): unknown[] => all.filter((d) => d.path === p).map((d) => dataOf(d));
      expect(paths('/a')).toEqual([{ kind: 'a' }]);
      expect(paths('/big')).toEqual([{ n: 11, tag: 'y' }]);
      expect(paths('/named')).toEqual([{ name: 'preface' }]);
      expect(paths('/other')).toHaveLength(2);
      const [meta] = (await subscriptionsOf(app.sidecar)) as unknown as Array<Record<string, unknown>>;
      expect(meta).toMatchObject({
        pubsubname: 'pubsub',
        topic,
        type: 'DECLARATIVE',
        rules: [{ match: 'has(event.data.kind) && event.data.kind == "a"', path: '/a' }, { path: '/big' }, { path: '/named' }, { path: '/other' }],
      });
      await app.stop();
    });

    it('sends to the dead-letter topic after the inbound policy\'s retries, on DROP and on 404, and drops unrouted events there', async () => {
      const topic = uniqueTopic('dl');
      const dead = uniqueTopic('dead');
      const resiliency = `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: pubsub-retries
spec:
  policies:
    retries:
      twice:
        policy: constant
        duration: 10ms
        maxRetries: 2
  targets:
    components:
      pubsub:
        inbound:
          retry: twice
`;
      const subs: Sub[] = [
        {
          pubsubname: 'pubsub',
          topic,
          routes: { rules: [{ match: 'event.data.mode == "fail"', path: '/fail' }, { match: 'event.data.mode == "drop"', path: '/drop' }, { match: 'event.data.mode == "gone"', path: '/gone' }, { match: 'event.data.mode == "ok"', path: '/ok' }] },
          deadLetterTopic: dead,
        },
        { pubsubname: 'pubsub', topic: dead, route: '/dead' },
      ];
      const behavior = { '/fail': { status: 500 }, '/drop': { body: { status: 'DROP' } }, '/gone': { status: 404 } };
      const app = await startApp({ appId: appId('dl-sub'), resources: { ...resources, 'resiliency.yaml': resiliency }, subs, behavior });
      const pub = from(app);
      for (const mode of ['fail', 'drop', 'gone', 'unrouted', 'ok']) await publishJson(pub, topic, { mode });
      const deadOnes = await eventually(async () => {
        const r = await app.received('/dead');
        return new Set(r.map((d) => dataOf(d).mode)).size >= 4 ? r : undefined;
      });
      expect(new Set(deadOnes.map((d) => dataOf(d).mode))).toEqual(new Set(['fail', 'drop', 'gone', 'unrouted']));
      // The dead letter is the original message: same id, original topic.
      const failedEvent = deadOnes.find((d) => dataOf(d).mode === 'fail')!;
      const attempts = await app.received('/fail');
      expect(attempts).toHaveLength(3);
      expect(failedEvent.body.id).toBe(attempts[0]!.body.id);
      expect(failedEvent.body.topic).toBe(topic);
      expect(await app.received('/ok')).toHaveLength(1);
      await app.stop();
    });

    it('reads the app\'s answers: empty, non-JSON and SUCCESS bodies ack; RETRY and errors retry under the inbound policy', async () => {
      const topic = uniqueTopic('answers');
      const resiliency = `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: pubsub-retries
spec:
  policies:
    retries:
      quick:
        policy: constant
        duration: 10ms
        maxRetries: 5
  targets:
    components:
      pubsub:
        inbound:
          retry: quick
`;
      const subs: Sub[] = [{ pubsubname: 'pubsub', topic, routes: { rules: ['empty', 'text', 'success', 'retry', 'status', 'error'].map((m) => ({ match: `event.data.mode == "${m}"`, path: `/${m}` })) } }];
      const behavior = {
        '/text': { body: 'not json at all' },
        '/success': { body: { status: 'SUCCESS' } },
        '/retry': { failFirst: 2, status: 200, body: { status: 'RETRY' } },
        '/status': { failFirst: 2, status: 200, body: { status: 'WHATEVER' } },
        '/error': { failFirst: 2, status: 503 },
      };
      const app = await startApp({ appId: appId('answers'), resources: { ...resources, 'resiliency.yaml': resiliency }, subs, behavior });
      for (const mode of ['empty', 'text', 'success', 'retry', 'status', 'error']) await publishJson(from(app), topic, { mode });
      await eventually(async () => (await app.received()).length >= 3 + 3 * 3);
      for (const p of ['/empty', '/text', '/success']) expect(await app.received(p)).toHaveLength(1);
      for (const p of ['/retry', '/status', '/error']) expect(await app.received(p)).toHaveLength(3);
      await app.stop();
    });

    it.skipIf(!!broker.unsupported?.redelivery)('hands a failed message back to the broker, which redelivers it, when there is no dead-letter topic', async () => {
      const topic = uniqueTopic('redeliver');
      const app = await startApp({ appId: appId('redeliver'), resources, subs: [{ pubsubname: 'pubsub', topic, route: '/flaky' }], behavior: { '/flaky': { failFirst: 2, status: 500 } } });
      await publishJson(from(app), topic, { once: true });
      const got = await eventually(async () => {
        const r = await app.received('/flaky');
        return r.length >= 3 ? r : undefined;
      }, 60_000);
      expect(new Set(got.map((d) => d.body.id)).size).toBe(1);
      await app.stop();
    });

    it('never delivers expired events and writes expiration for ttlInSeconds', async () => {
      const topic = uniqueTopic('ttl');
      const app = await startApp({ appId: appId('ttl-sub'), resources, subs: [{ pubsubname: 'pubsub', topic, route: '/ttl' }] });
      const pub = from(app);
      const past = { specversion: '1.0', id: 'expired-1', source: 's', type: 't', expiration: new Date(Date.now() - 60_000).toISOString(), data: { expired: true } };
      expect((await publish(pub, topic, JSON.stringify(past), { contentType: 'application/cloudevents+json' })).status).toBe(204);
      await publishJson(pub, topic, { ttl: 60 }, 'metadata.ttlInSeconds=60');
      for (let i = 0; i < 3; i++) await publishJson(pub, topic, { marker: i });
      const got = await eventually(async () => {
        const r = await app.received('/ttl');
        return r.filter((d) => 'marker' in dataOf(d)).length === 3 && r.some((d) => 'ttl' in dataOf(d)) ? r : undefined;
      });
      expect(got.some((d) => d.body.id === 'expired-1')).toBe(false);
      const withTtl = got.find((d) => 'ttl' in dataOf(d))!;
      const exp = Date.parse(withTtl.body.expiration as string);
      expect(exp).toBeGreaterThan(Date.now());
      expect(exp).toBeLessThanOrEqual(Date.now() + 61_000);
      await app.stop();
    });

    it.skipIf(!broker.durable)('drops messages whose TTL ran out while the subscriber was down', async () => {
      const topic = uniqueTopic('ttl-down');
      const subs = [{ pubsubname: 'pubsub', topic, route: '/ttl' }];
      const first = await startApp({ appId: appId('ttl-down'), resources, subs });
      await first.stop();
      await publishJson(publisher!, topic, { short: true }, 'metadata.ttlInSeconds=1');
      await publishJson(publisher!, topic, { long: true }, 'metadata.ttlInSeconds=600');
      await new Promise((r) => setTimeout(r, 2500));
      await publishJson(publisher!, topic, { marker: true });
      const again = await startApp({ appId: appId('ttl-down'), resources, subs });
      const got = await eventually(async () => {
        const r = await again.received('/ttl');
        return r.some((d) => dataOf(d).marker) && r.some((d) => dataOf(d).long) ? r : undefined;
      });
      expect(got.some((d) => dataOf(d).short)).toBe(false);
      await again.stop();
    });

    it('bulk-publishes with per-entry content types and bulk-delivers in batches', async () => {
      const topic = uniqueTopic('bulk');
      const subs: Sub[] = [{ pubsubname: 'pubsub', topic, route: '/bulk', bulkSubscribe: { enabled: true, maxMessagesCount: 5, maxAwaitDurationMs: 300 } }];
      const app = await startApp({ appId: appId('bulk-sub'), resources, subs });
      const pub = from(app);
      const entries = Array.from({ length: 12 }, (_, i) =>
        i % 3 === 0
          ? { entryID: `e${i}`, event: `text ${i}`, contentType: 'text/plain', ...(i === 0 ? { metadata: { 'cloudevent.type': 'bulk.custom' } } : {}) }
          : i % 3 === 1
            ? { entryId: `e${i}`, event: { n: i }, contentType: 'application/json' }
            : { entryId: `e${i}`, event: Buffer.from(`bin ${i}`).toString('base64'), contentType: 'application/octet-stream' },
      );
      const res = await fetch(`${pub.url}/v1.0-alpha1/publish/bulk/pubsub/${topic}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(entries) });
      expect(res.status, await res.clone().text()).toBe(204);
      const batches = await eventually(async () => {
        const r = await app.received('/bulk');
        return r.reduce((n, d) => n + (d.body.entries?.length ?? 0), 0) >= 12 ? r : undefined;
      });
      for (const b of batches) {
        expect(b.headers['content-type']).toBe('application/json');
        expect(b.body).toMatchObject({ type: 'com.dapr.event.sent.bulk', topic, pubsubname: 'pubsub' });
        expect(b.body.entries!.length).toBeLessThanOrEqual(5);
      }
      const events = batches.flatMap((b) => b.body.entries!).map((e) => {
        expect(e.contentType).toBe('application/cloudevents+json');
        expect(typeof e.entryId).toBe('string');
        return e.event as Record<string, unknown>;
      });
      expect(events.filter((e) => e.datacontenttype === 'text/plain').map((e) => e.data).sort()).toEqual(['text 0', 'text 3', 'text 6', 'text 9']);
      // Entry metadata is merged over the request's, per entry.
      expect(events.filter((e) => e.type === 'bulk.custom').map((e) => e.data)).toEqual(['text 0']);
      expect(events.filter((e) => e.datacontenttype === 'application/json').map((e) => (e.data as { n: number }).n).sort((x, y) => x - y)).toEqual([1, 4, 7, 10]);
      expect(events.filter((e) => e.datacontenttype === 'application/octet-stream').map((e) => Buffer.from(e.data_base64 as string, 'base64').toString()).sort()).toEqual(['bin 11', 'bin 2', 'bin 5', 'bin 8']);

      const md = await json<{ components: Array<{ name: string; capabilities?: string[] }> }>(`${pub.url}/v1.0/metadata`);
      expect(md.components.find((c) => c.name === 'pubsub')?.capabilities?.includes('BULK_PUBSUB') ?? false).toBe(broker.nativeBulk);

      const dup = await fetch(`${pub.url}/v1.0/publish/bulk/pubsub/${topic}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ entryId: 'x', event: 'a', contentType: 'text/plain' }, { entryId: 'x', event: 'b', contentType: 'text/plain' }]) });
      expect(dup.status).toBe(400);
      expect((await dup.json()).errorCode).toBe('ERR_PUBSUB_EVENTS_SER');
      const mismatch = await fetch(`${pub.url}/v1.0/publish/bulk/pubsub/${topic}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ entryId: 'y', event: { a: 1 }, contentType: 'text/plain' }]) });
      expect(mismatch.status).toBe(400);
      await app.stop();
    });

    it.skipIf(broker.binaryMode === 'none')('delivers binary-mode messages as Dapr does: routed on the ce_* attributes, the bytes as the body', async () => {
      const topic = uniqueTopic('binary');
      const subs: Sub[] = [{ pubsubname: 'pubsub', topic, routes: { rules: [{ match: 'has(event.type) && event.type == "bin.type"', path: '/typed' }], default: '/bin' } }];
      const app = await startApp({ appId: appId('binary-sub'), resources, subs });
      const query = 'metadata.rawPayload=true&metadata.content-type=application%2Foctet-stream&metadata.ce_type=bin.type&metadata.ce_id=bin-1';
      const res = await publish(from(app), topic, Buffer.from('binary body'), { contentType: 'application/octet-stream', query });
      expect(res.status, await res.clone().text()).toBe(204);
      const path = broker.binaryMode === 'attributes' ? '/typed' : '/bin';
      const [d] = await eventually(async () => {
        const r = await app.received(path);
        return r.length > 0 ? r : undefined;
      });
      expect(d!.body).toBe('binary body');
      expect(d!.headers['content-type']).toBe('application/cloudevents+json');
      if (broker.binaryMode === 'attributes') expect(d!.headers.ce_id).toBe('bin-1');
      await app.stop();
    });

    it('carries the publisher\'s trace context in the event and into the delivery', async () => {
      const topic = uniqueTopic('trace');
      const app = await startApp({ appId: appId('trace-sub'), resources, subs: [{ pubsubname: 'pubsub', topic, route: '/traced' }] });
      const traceId = randomBytes(16).toString('hex');
      const parentSpan = randomBytes(8).toString('hex');
      const res = await publish(from(app), topic, JSON.stringify({ t: 1 }), { contentType: 'application/json', headers: { traceparent: `00-${traceId}-${parentSpan}-01`, tracestate: 'vendor=abc' } });
      expect(res.status).toBe(204);
      const [d] = await eventually(async () => {
        const r = await app.received('/traced');
        return r.length > 0 ? r : undefined;
      });
      const tp = String(d!.body.traceparent);
      expect(tp).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
      expect(d!.body.traceid).toBe(tp);
      expect(d!.body.tracestate).toBe('vendor=abc');
      // The event carries the publish span's context (the one the API answered with) ...
      expect(tp).toBe(res.headers.get('traceparent'));
      expect(tp).not.toContain(parentSpan);
      // ... and the delivery to the app is a child of it.
      expect(d!.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
      expect(d!.headers.traceparent).not.toBe(tp);
      await app.stop();
    });

    it.skipIf(!broker.durable || !broker.crossProcess)('loses nothing when the subscriber\'s sidecar is killed (SIGKILL) mid-stream', async () => {
      const topic = uniqueTopic('kill');
      const total = 1000;
      const subs = [{ pubsubname: 'pubsub', topic, route: '/k' }];
      // The app binds port 0 and says which port it got (a port picked beforehand may be taken meanwhile).
      const app = startProcess(process.execPath, [APP], { env: { APP_PORT: '0', SUBSCRIPTIONS: JSON.stringify(subs), BEHAVIOR: JSON.stringify({ '/k': { delayMs: 2 } }) } });
      const appPort = Number((await app.waitFor(/listening on (\d+)/))[1]);
      const appUrl = `http://127.0.0.1:${appPort}`;
      const sidecarArgs = { appId: appId('killed-sub'), resources, args: ['--app-port', String(appPort)] };
      let sidecar = await startSidecar(sidecarArgs);
      await waitSubscribed(sidecar, [topic]);
      const counts = async (): Promise<{ unique: number; total: number }> => {
        const r = await json<Delivery[]>(`${appUrl}/control/received?path=%2Fk`);
        return { unique: new Set(r.map((d) => dataOf(d).n)).size, total: r.length };
      };
      const publishing = (async () => {
        for (let i = 0; i < total; i += 20) {
          await Promise.all(Array.from({ length: 20 }, (_, k) => publishJson(publisher!, topic, { n: i + k })));
        }
      })();
      await eventually(async () => (await counts()).unique >= 200, 60_000, 10);
      await stopProcess(sidecar, 'SIGKILL');
      const atKill = await counts();
      sidecar = await startSidecar(sidecarArgs);
      await publishing;
      const final = await eventually(async () => {
        const c = await counts();
        return c.unique === total ? c : undefined;
      }, 120_000, 200);
      console.log(`${broker.type}: killed at ${atKill.unique} delivered; after restart ${final.unique}/${total} unique, ${final.total - final.unique} duplicates`);
      expect(atKill.unique).toBeLessThan(total);
      expect(final.unique).toBe(total);
      await stopProcess(sidecar);
      await stopProcess(app);
    }, 240_000);
  });
}
