// Component-level conformance for the networked pub/sub brokers: one suite, written once, run
// against Redis Streams, NATS JetStream, RabbitMQ and MQTT through the PubSub interface, on the
// real local services. Each broker row says only how to reach it and what it promises.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { builtinComponents } from '../../components/index.js';
import type { ComponentContext, Logger } from '../../core/component.js';
import type { PubSub, ReceivedMessage } from '../../core/pubsub/component.js';
import { cleanupBroker, type BrokerType } from '../helpers/broker-cleanup.js';
import { eventually } from '../helpers/processes.js';
import { serviceAvailable, SERVICES, type ServiceName } from '../helpers/services.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

interface BrokerCase {
  type: BrokerType;
  service: ServiceName;
  /** Connection metadata for a broker listening on 127.0.0.1:`port`. */
  connection(port: number): Record<string, string>;
  /** Extra metadata every test uses (fast redelivery, durable queues). */
  settings: Record<string, string>;
  /** Does the broker promise per-topic order to a single subscriber? */
  ordered: boolean;
  /**
   * How instances compete: by sharing consumerID, or (MQTT, as in Dapr) with one client id
   * each and a `$share/<group>/` subscription.
   */
  competing: 'consumerID' | 'sharedSubscription';
}

const BROKERS: BrokerCase[] = [
  {
    type: 'pubsub.redis',
    service: 'redis',
    connection: (port) => ({ redisHost: `127.0.0.1:${port}` }),
    settings: { processingTimeout: '1000', redeliverInterval: '200' },
    ordered: false,
    competing: 'consumerID',
  },
  {
    type: 'pubsub.jetstream',
    service: 'nats',
    connection: (port) => ({ natsURL: `nats://127.0.0.1:${port}` }),
    settings: {},
    ordered: true,
    competing: 'consumerID',
  },
  {
    type: 'pubsub.rabbitmq',
    service: 'rabbitmq',
    connection: (port) => ({ connectionString: `amqp://guest:guest@127.0.0.1:${port}` }),
    // Dapr's default deletes a queue with its last consumer; durability needs it kept.
    settings: { deletedWhenUnused: 'false', reconnectWaitSeconds: '1' },
    ordered: true,
    competing: 'consumerID',
  },
  {
    type: 'pubsub.mqtt3',
    service: 'mqtt',
    connection: (port) => ({ url: `tcp://127.0.0.1:${port}` }),
    settings: {},
    ordered: true,
    competing: 'sharedSubscription',
  },
];

const quiet: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return quiet;
  },
};

const run = randomUUID().slice(0, 8);

class Inbox {
  readonly messages: ReceivedMessage[] = [];
  /** Number of times each payload (as text) was seen. */
  readonly seen = new Map<string, number>();
  reject: (msg: ReceivedMessage) => boolean = () => false;
  readonly handler = async (msg: ReceivedMessage): Promise<void> => {
    const key = msg.data.toString('latin1');
    this.seen.set(key, (this.seen.get(key) ?? 0) + 1);
    this.messages.push(msg);
    if (this.reject(msg)) throw new Error('handler rejects');
  };
  distinct(): number {
    return this.seen.size;
  }
}

for (const broker of BROKERS) {
  const up = await serviceAvailable(broker.service);
  describe.skipIf(!up)(`${broker.type} conformance`, () => {
    const topics: string[] = [];
    const consumerIds: string[] = [];
    const open: PubSub[] = [];
    let n = 0;
    const topic = (): string => {
      const t = `bw-${run}-${++n}`;
      topics.push(t);
      return t;
    };
    const consumerId = (label: string): string => {
      const c = `bw-${run}-${label}-${++n}`;
      consumerIds.push(c);
      return c;
    };
    const create = async (consumerID: string, port = SERVICES[broker.service], extra: Record<string, string> = {}): Promise<PubSub> => {
      const entry = builtinComponents().lookup(broker.type, 'v1');
      if (!entry) throw new Error(`${broker.type} is not registered`);
      const ctx: ComponentContext = {
        name: 'broker',
        type: broker.type,
        version: 'v1',
        metadata: { ...broker.connection(port), ...broker.settings, consumerID, ...extra },
        appId: 'conformance',
        homeDir: '/nonexistent',
        cwd: process.cwd(),
        env: {},
        logger: quiet,
      };
      const ps = (await entry.factory(ctx)) as PubSub;
      open.push(ps);
      return ps;
    };
    const closeAll = async (): Promise<void> => {
      await Promise.all(open.splice(0).map((p) => p.close?.()));
    };
    const payload = (i: number): Buffer => Buffer.from(JSON.stringify({ run, i }));

    afterAll(async () => {
      await closeAll();
      const queues = topics.flatMap((t) => consumerIds.map((c) => `${c}-${t}`));
      await cleanupBroker(broker.type, topics, { queues, clientIds: consumerIds }).catch((err: unknown) => console.warn(`cleanup of ${broker.type} failed: ${String(err)}`));
    });

    it('delivers the published bytes unchanged', async () => {
      const t = topic();
      const sub = await create(consumerId('rt'));
      const inbox = new Inbox();
      await sub.subscribe({ topic: t, metadata: {} }, inbox.handler);
      const pub = await create(consumerId('pub'));
      const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const json = Buffer.from(JSON.stringify({ specversion: '1.0', id: randomUUID(), data: { text: 'héllo ✓' } }));
      await pub.publish({ topic: t, data: binary, contentType: 'application/octet-stream', metadata: {} });
      await pub.publish({ topic: t, data: json, contentType: 'application/cloudevents+json', metadata: {} });
      await eventually(() => inbox.messages.length >= 2);
      expect(inbox.messages.map((m) => m.data)).toEqual([binary, json]);
      expect(inbox.messages.every((m) => m.topic === t)).toBe(true);
    });

    it('offers a message again after the handler rejects it, and not after it resolves', async () => {
      const t = topic();
      const sub = await create(consumerId('redeliver'));
      const inbox = new Inbox();
      let rejections = 0;
      inbox.reject = () => ++rejections <= 2;
      await sub.subscribe({ topic: t, metadata: {} }, inbox.handler);
      const pub = await create(consumerId('pub'));
      await pub.publish({ topic: t, data: payload(1), metadata: {} });
      await eventually(() => inbox.messages.length >= 3, 30_000);
      // Once accepted it is acknowledged: a later message arrives and the first does not return.
      await pub.publish({ topic: t, data: payload(2), metadata: {} });
      await eventually(() => inbox.seen.has(payload(2).toString('latin1')), 30_000);
      await new Promise((r) => setTimeout(r, 2500));
      expect(inbox.seen.get(payload(1).toString('latin1'))).toBe(3);
      expect(inbox.seen.get(payload(2).toString('latin1'))).toBe(1);
    });

    it('shares messages between competing instances and gives each consumer group all', async () => {
      const t = topic();
      const group = consumerId('group');
      const filter = broker.competing === 'sharedSubscription' ? `$share/${group}/${t}` : t;
      const idA = broker.competing === 'sharedSubscription' ? consumerId('a') : group;
      const idB = broker.competing === 'sharedSubscription' ? consumerId('b') : group;
      const a = new Inbox();
      const b = new Inbox();
      const other = new Inbox();
      await (await create(idA)).subscribe({ topic: filter, metadata: {} }, a.handler);
      await (await create(idB)).subscribe({ topic: filter, metadata: {} }, b.handler);
      await (await create(consumerId('other'))).subscribe({ topic: t, metadata: {} }, other.handler);
      const pub = await create(consumerId('pub'));
      const count = 60;
      for (let i = 0; i < count; i++) await pub.publish({ topic: t, data: payload(i), metadata: {} });
      await eventually(() => new Set([...a.seen.keys(), ...b.seen.keys()]).size === count && other.distinct() === count, 30_000);
      expect(a.messages.length).toBeGreaterThan(0);
      expect(b.messages.length).toBeGreaterThan(0);
      // Shared, not copied: every message went to one of the two instances (no redelivery here).
      expect(a.messages.length + b.messages.length).toBe(count);
    });

    it('keeps messages for a durable subscriber while it is away', async () => {
      const t = topic();
      const id = consumerId('durable');
      const first = await create(id);
      const inbox1 = new Inbox();
      const handle = await first.subscribe({ topic: t, metadata: {} }, inbox1.handler);
      const pub = await create(consumerId('pub'));
      await pub.publish({ topic: t, data: payload(0), metadata: {} });
      await eventually(() => inbox1.messages.length === 1);
      await handle.close();
      await first.close?.();
      open.splice(open.indexOf(first), 1);
      for (let i = 1; i <= 10; i++) await pub.publish({ topic: t, data: payload(i), metadata: {} });
      const again = await create(id);
      const inbox2 = new Inbox();
      await again.subscribe({ topic: t, metadata: {} }, inbox2.handler);
      await eventually(() => inbox2.distinct() === 10, 30_000);
      expect([...inbox2.seen.keys()].sort()).toEqual(Array.from({ length: 10 }, (_, i) => payload(i + 1).toString('latin1')).sort());
    });

    it('does not hold a returning subscriber up with messages for a topic it dropped', async () => {
      const dropped = topic();
      const kept = topic();
      const id = consumerId('returning');
      const first = await create(id);
      await first.subscribe({ topic: dropped, metadata: {} }, async () => {});
      await first.subscribe({ topic: kept, metadata: {} }, async () => {});
      await first.close?.();
      open.splice(open.indexOf(first), 1);
      const pub = await create(consumerId('pub'));
      for (let i = 0; i < 3; i++) await pub.publish({ topic: dropped, data: payload(i), metadata: {} });
      for (let i = 0; i < 3; i++) await pub.publish({ topic: kept, data: payload(10 + i), metadata: {} });
      const inbox = new Inbox();
      await (await create(id)).subscribe({ topic: kept, metadata: {} }, inbox.handler);
      // Well inside the time a parked message may wait for a subscription that claims it.
      await eventually(() => inbox.distinct() === 3, 8_000);
      expect(inbox.messages.every((m) => m.topic === kept)).toBe(true);
    });

    if (broker.ordered) {
      it('delivers one topic in publish order', async () => {
        const t = topic();
        const inbox = new Inbox();
        await (await create(consumerId('order'))).subscribe({ topic: t, metadata: {} }, inbox.handler);
        const pub = await create(consumerId('pub'));
        for (let i = 0; i < 100; i++) await pub.publish({ topic: t, data: payload(i), metadata: {} });
        await eventually(() => inbox.messages.length >= 100, 30_000);
        expect(inbox.messages.map((m) => JSON.parse(m.data.toString()).i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
      });
    }

    it('lets a handler publish through the same component while it handles a message', async () => {
      const first = topic();
      const second = topic();
      const ps = await create(consumerId('chain'));
      const inbox = new Inbox();
      await ps.subscribe({ topic: second, metadata: {} }, inbox.handler);
      await ps.subscribe({ topic: first, metadata: {} }, async (msg) => {
        await ps.publish({ topic: second, data: msg.data, metadata: {} });
      });
      const pub = await create(consumerId('pub'));
      for (let i = 0; i < 5; i++) await pub.publish({ topic: first, data: payload(i), metadata: {} });
      await eventually(() => inbox.distinct() === 5, 30_000);
    });

    it('delivers 1,000 messages without losing any', async () => {
      const t = topic();
      const inbox = new Inbox();
      await (await create(consumerId('bulk'))).subscribe({ topic: t, metadata: {} }, inbox.handler);
      const pub = await create(consumerId('pub'));
      const total = 1000;
      for (let i = 0; i < total; i += 50) {
        await Promise.all(Array.from({ length: 50 }, (_, k) => pub.publish({ topic: t, data: payload(i + k), metadata: {} })));
      }
      await eventually(() => inbox.distinct() === total, 60_000);
      const duplicates = inbox.messages.length - total;
      expect(duplicates).toBeGreaterThanOrEqual(0);
      console.log(`${broker.type}: ${total} delivered, ${duplicates} duplicates`);
    });

    it('fails a publish clearly while the broker is unreachable and recovers when it returns', async () => {
      const proxy = await startTcpProxy(SERVICES[broker.service]);
      const t = topic();
      const inbox = new Inbox();
      const sub = await create(consumerId('reconnect'), proxy.port);
      await sub.subscribe({ topic: t, metadata: {} }, inbox.handler);
      const pub = await create(consumerId('pub'), proxy.port);
      await pub.publish({ topic: t, data: payload(1), metadata: {} });
      await eventually(() => inbox.distinct() === 1);

      await proxy.cut();
      const err = await eventually(async () => {
        try {
          await withTimeout(pub.publish({ topic: t, data: payload(99), metadata: {} }), 10_000);
          return undefined;
        } catch (e) {
          return e as Error;
        }
      }, 20_000);
      expect(err.message).toMatch(/unreachable/);

      await proxy.restore();
      await eventually(async () => {
        await pub.publish({ topic: t, data: payload(2), metadata: {} });
        return true;
      }, 30_000, 250);
      // The subscription came back by itself.
      await eventually(() => inbox.seen.has(payload(2).toString('latin1')), 30_000);
    });
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms`)), ms);
    }),
  ]);
}
