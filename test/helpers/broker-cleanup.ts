// Removes what pub/sub broker tests created on the shared local services: Redis streams,
// JetStream streams, RabbitMQ queues and exchanges, MQTT persistent sessions.
import { connect as amqpConnect } from 'amqplib';
import { Redis } from 'ioredis';
import { connect as mqttConnect } from 'mqtt';
import { connect as natsConnect } from 'nats';
import { SERVICES } from './services.js';

export type BrokerType = 'pubsub.redis' | 'pubsub.jetstream' | 'pubsub.rabbitmq' | 'pubsub.mqtt3';

/** `queues` are RabbitMQ queue names; `clientIds` are MQTT client ids (= consumerIDs). */
export async function cleanupBroker(type: BrokerType, topics: string[], opts: { queues?: string[]; clientIds?: string[] } = {}): Promise<void> {
  switch (type) {
    case 'pubsub.redis': {
      const r = new Redis({ port: SERVICES.redis, lazyConnect: true });
      await r.connect();
      if (topics.length) await r.del(...topics);
      r.disconnect();
      return;
    }
    case 'pubsub.jetstream': {
      const nc = await natsConnect({ servers: `127.0.0.1:${SERVICES.nats}` });
      const jsm = await nc.jetstreamManager();
      for (const t of topics) {
        const name = await jsm.streams.find(t).catch(() => undefined);
        if (name) await jsm.streams.delete(name).catch(() => undefined);
      }
      await nc.close();
      return;
    }
    case 'pubsub.rabbitmq': {
      const conn = await amqpConnect(`amqp://guest:guest@127.0.0.1:${SERVICES.rabbitmq}`);
      // A failed delete closes its channel, so each gets its own.
      const drop = async (fn: (ch: Awaited<ReturnType<typeof conn.createChannel>>) => Promise<unknown>): Promise<void> => {
        const ch = await conn.createChannel();
        await fn(ch).catch(() => undefined);
        await ch.close().catch(() => undefined);
      };
      for (const q of opts.queues ?? []) await drop((ch) => ch.deleteQueue(q));
      for (const t of topics) await drop((ch) => ch.deleteExchange(t));
      await conn.close();
      return;
    }
    case 'pubsub.mqtt3': {
      // A clean-session connection with the same client id discards the persistent session.
      for (const id of opts.clientIds ?? []) {
        const client = mqttConnect(`mqtt://127.0.0.1:${SERVICES.mqtt}`, { clientId: id, clean: true, protocolVersion: 4 });
        await new Promise<void>((resolve) => client.once('connect', () => resolve()).once('error', () => resolve()));
        await client.endAsync();
      }
      return;
    }
  }
}
