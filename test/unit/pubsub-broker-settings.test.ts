// Metadata decoding of the networked pub/sub brokers (refused before any connection is made)
// and MQTT topic-filter matching.
import { describe, expect, it } from 'vitest';
import type { ComponentContext, Logger } from '../../core/component.js';
import { createJetStreamPubSub } from '../../components/pubsub/jetstream.js';
import { createMqttPubSub, topicMatches } from '../../components/pubsub/mqtt3.js';
import { createRabbitMqPubSub } from '../../components/pubsub/rabbitmq.js';
import { createRedisPubSub } from '../../components/pubsub/redis.js';
import { consumerIdOf } from '../../components/pubsub/broker-settings.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const ctx = (type: string, metadata: Record<string, string>): ComponentContext => ({
  name: 'p', type, version: 'v1', metadata, appId: 'myapp', homeDir: '/nonexistent', cwd: '/', env: {}, logger: quiet,
});

describe('consumerID', () => {
  it('defaults to the app id when absent or blank, as the runtime fills it', () => {
    expect(consumerIdOf(ctx('pubsub.redis', {}))).toBe('myapp');
    expect(consumerIdOf(ctx('pubsub.redis', { consumerID: '  ' }))).toBe('myapp');
    expect(consumerIdOf(ctx('pubsub.redis', { consumerid: 'group-1' }))).toBe('group-1');
  });
});

describe('metadata the brokers refuse', () => {
  it('pubsub.redis requires redisHost and integer settings', async () => {
    await expect(createRedisPubSub(ctx('pubsub.redis', {}))).rejects.toThrow(/"redisHost" is required/);
    await expect(createRedisPubSub(ctx('pubsub.redis', { redisHost: '127.0.0.1:1', concurrency: 'many' }))).rejects.toThrow(/"concurrency" must be an integer/);
    await expect(createRedisPubSub(ctx('pubsub.redis', { redisHost: '127.0.0.1:1', processingTimeout: 'soon' }))).rejects.toThrow(/"processingTimeout" is not a duration/);
    await expect(createRedisPubSub(ctx('pubsub.redis', { redisHost: '127.0.0.1:1', redisType: 'cluster' }))).rejects.toThrow(/"cluster" is not supported/);
    await expect(createRedisPubSub(ctx('pubsub.redis', { redisHost: '127.0.0.1:1', failover: 'true' }))).rejects.toThrow(/Sentinel\) is not supported/);
  });

  it('pubsub.jetstream requires natsURL, a known deliverPolicy and paired credentials', async () => {
    await expect(createJetStreamPubSub(ctx('pubsub.jetstream', {}))).rejects.toThrow(/"natsURL" is required/);
    await expect(createJetStreamPubSub(ctx('pubsub.jetstream', { natsURL: 'nats://127.0.0.1:1', deliverPolicy: 'sometimes' }))).rejects.toThrow(/unknown deliverPolicy "sometimes"/);
    await expect(createJetStreamPubSub(ctx('pubsub.jetstream', { natsURL: 'nats://127.0.0.1:1', jwt: 'x' }))).rejects.toThrow(/"jwt" and "seedKey" go together/);
    await expect(createJetStreamPubSub(ctx('pubsub.jetstream', { natsURL: 'nats://127.0.0.1:1', tls_client_key: 'k.pem' }))).rejects.toThrow(/"tls_client_cert" and "tls_client_key" go together/);
  });

  it('pubsub.rabbitmq refuses deliveryMode above 2 and unknown exchange kinds', async () => {
    await expect(createRabbitMqPubSub(ctx('pubsub.rabbitmq', { connectionString: 'amqp://127.0.0.1:1', deliveryMode: '3' }))).rejects.toThrow(/deliveryMode must be 0, 1 or 2/);
    await expect(createRabbitMqPubSub(ctx('pubsub.rabbitmq', { connectionString: 'amqp://127.0.0.1:1', exchangeKind: 'x' }))).rejects.toThrow(/exchangeKind "x"/);
  });

  it('pubsub.mqtt3 requires url and a QoS of 0, 1 or 2', async () => {
    await expect(createMqttPubSub(ctx('pubsub.mqtt3', {}))).rejects.toThrow(/"url" is required/);
    await expect(createMqttPubSub(ctx('pubsub.mqtt3', { url: 'tcp://127.0.0.1:1', qos: '3' }))).rejects.toThrow(/qos must be 0, 1 or 2/);
  });
});

describe('MQTT topic filters', () => {
  it('matches exact topics, + for one level and # for the rest', () => {
    expect(topicMatches('orders', 'orders')).toBe(true);
    expect(topicMatches('orders', 'orders/eu')).toBe(false);
    expect(topicMatches('orders/+', 'orders/eu')).toBe(true);
    expect(topicMatches('orders/+', 'orders/eu/fr')).toBe(false);
    expect(topicMatches('orders/#', 'orders/eu/fr')).toBe(true);
    expect(topicMatches('+/eu', 'orders/eu')).toBe(true);
  });

  it('matches a $share/<group>/ filter on the topic after the group', () => {
    expect(topicMatches('$share/workers/orders', 'orders')).toBe(true);
    expect(topicMatches('$share/workers/orders/+', 'orders/eu')).toBe(true);
    expect(topicMatches('$share/workers/orders', 'workers')).toBe(false);
  });
});
