// What the networked brokers leave on the wire, checked with each broker's own client: the
// names and layouts Dapr uses, so bulwark and daprd sidecars can share a broker.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { connect as amqpConnect } from 'amqplib';
import { Redis } from 'ioredis';
import { connect as natsConnect } from 'nats';
import { builtinComponents } from '../../components/index.js';
import type { Logger } from '../../core/component.js';
import type { PubSub } from '../../core/pubsub/component.js';
import { cleanupBroker } from '../helpers/broker-cleanup.js';
import { eventually } from '../helpers/processes.js';
import { serviceAvailable, SERVICES } from '../helpers/services.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const run = randomUUID().slice(0, 8);

async function create(type: string, metadata: Record<string, string>): Promise<PubSub> {
  const entry = builtinComponents().lookup(type, 'v1')!;
  return (await entry.factory({ name: 'p', type, version: 'v1', metadata, appId: 'naming-app', homeDir: '/nonexistent', cwd: '/', env: {}, logger: quiet })) as PubSub;
}

describe.skipIf(!(await serviceAvailable('redis')))('pubsub.redis on the wire', () => {
  const topic = `bw-naming-${run}`;
  const capped = `bw-naming-capped-${run}`;
  const redis = new Redis({ port: SERVICES.redis });
  afterAll(async () => {
    await cleanupBroker('pubsub.redis', [topic, capped]);
    redis.disconnect();
  });

  it('writes data and metadata fields and reads with a consumer group named by consumerID (default: app id)', async () => {
    const ps = await create('pubsub.redis', { redisHost: `127.0.0.1:${SERVICES.redis}` });
    await ps.subscribe({ topic, metadata: {} }, async () => {});
    await ps.publish({ topic, data: Buffer.from('payload'), metadata: { ttlInSeconds: '30' } });
    const entries = await redis.xrange(topic, '-', '+');
    expect(entries).toHaveLength(1);
    expect(entries[0]![1]).toEqual(['data', 'payload', 'metadata', JSON.stringify({ ttlInSeconds: '30' })]);
    const groups = (await redis.xinfo('GROUPS', topic)) as unknown[][];
    expect(groups.map((g) => g[1])).toEqual(['naming-app']);
    await ps.close?.();
  });

  it('caps the stream near maxLenApprox', async () => {
    const ps = await create('pubsub.redis', { redisHost: `127.0.0.1:${SERVICES.redis}`, maxLenApprox: '10' });
    for (let i = 0; i < 500; i++) await ps.publish({ topic: capped, data: Buffer.from(String(i)), metadata: {} });
    // Approximate trimming works in whole macro nodes (100 entries by default).
    expect(await redis.xlen(capped)).toBeLessThan(250);
    await ps.close?.();
  });
});

describe.skipIf(!(await serviceAvailable('rabbitmq')))('pubsub.rabbitmq on the wire', () => {
  const topic = `bw-naming-${run}`;
  afterAll(async () => {
    await cleanupBroker('pubsub.rabbitmq', [topic], { queues: [`naming-app-${topic}`] });
  });

  it('declares a fanout exchange named by the topic and a queue named <consumerID>-<topic>', async () => {
    const ps = await create('pubsub.rabbitmq', { connectionString: `amqp://guest:guest@127.0.0.1:${SERVICES.rabbitmq}`, deletedWhenUnused: 'false' });
    await ps.subscribe({ topic, metadata: {} }, async () => {});
    const conn = await amqpConnect(`amqp://guest:guest@127.0.0.1:${SERVICES.rabbitmq}`);
    const ch = await conn.createChannel();
    await ch.checkExchange(topic);
    expect((await ch.checkQueue(`naming-app-${topic}`)).consumerCount).toBe(1);
    // Fanout: a queue of our own bound with any key receives what the component publishes.
    const probe = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(probe.queue, topic, 'whatever');
    await ps.publish({ topic, data: Buffer.from('hello'), metadata: {} });
    const got = await eventually(async () => ch.get(probe.queue, { noAck: true }));
    expect(got && got.content.toString()).toBe('hello');
    await conn.close();
    await ps.close?.();
  });
});

describe.skipIf(!(await serviceAvailable('nats')))('pubsub.jetstream on the wire', () => {
  const topic = `bw-naming-${run}`;
  afterAll(async () => {
    await cleanupBroker('pubsub.jetstream', [topic]);
  });

  it('uses the topic as subject, a durable consumer <consumerID>-<topic>, and the CloudEvent id as Nats-Msg-Id', async () => {
    const ps = await create('pubsub.jetstream', { natsURL: `nats://127.0.0.1:${SERVICES.nats}` });
    await ps.subscribe({ topic, metadata: {} }, async () => {});
    const nc = await natsConnect({ servers: `127.0.0.1:${SERVICES.nats}` });
    const jsm = await nc.jetstreamManager();
    const stream = await jsm.streams.find(topic);
    const info = await jsm.consumers.info(stream, `naming-app-${topic}`);
    expect(info.config.filter_subject).toBe(topic);
    expect(info.config.durable_name).toBe(`naming-app-${topic}`);
    const event = Buffer.from(JSON.stringify({ specversion: '1.0', id: 'evt-1', data: 1 }));
    await ps.publish({ topic, data: event, metadata: {} });
    await ps.publish({ topic, data: event, metadata: {} });
    // The second publish is the same event: the server's de-duplication dropped it.
    expect((await jsm.streams.info(stream)).state.messages).toBe(1);
    await nc.close();
    await ps.close?.();
  });
});
