// configuration.redis: each item is a Redis string "<value>||<version>" (version optional), as
// Dapr lays them out. Subscriptions listen to keyspace notifications (__keyspace@<db>__:<key>,
// or every key) on their own connection; the store asks Redis to emit them (CONFIG SET
// notify-keyspace-events) and carries on if the server refuses.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ComponentContext } from '../../core/component.js';
import { SubscriptionTable, type ConfigurationItems, type ConfigurationStore, type ConfigurationUpdate, type ConfigurationUpdateHandler } from '../../core/configuration/component.js';
import { connectRedis, redisConnection } from '../common/redis-connection.js';

const NAME = 'configuration.redis';
const SEP = '||';

export function parseRedisItem(raw: string): { value: string; version: string } {
  const parts = raw.split(SEP);
  return { value: parts[0] ?? '', version: parts.length > 1 ? parts[1]! : '' };
}

interface Sub {
  client: Redis;
}

export async function createRedisConfigurationStore(ctx: ComponentContext): Promise<ConfigurationStore> {
  const conn = redisConnection(ctx, NAME);
  const client = await connectRedis(conn, ctx, NAME);
  const subs = new SubscriptionTable<Sub>();
  const prefix = `__keyspace@${conn.db}__:`;
  let notificationsAsked = false;

  async function get(keys: readonly string[]): Promise<ConfigurationItems> {
    const names = keys.length > 0 ? [...keys] : await allKeys(client);
    const out: ConfigurationItems = {};
    if (names.length === 0) return out;
    const pipe = client.pipeline();
    for (const k of names) pipe.get(k);
    const results = (await pipe.exec()) ?? [];
    names.forEach((k, i) => {
      const [err, v] = results[i] ?? [];
      // Keys holding other Redis types are not configuration items.
      if (err || typeof v !== 'string') return;
      const { value, version } = parseRedisItem(v);
      // Dapr leaves out items whose value is empty.
      if (value !== '') out[k] = { value, version, metadata: {} };
    });
    return out;
  }

  return {
    get: (keys) => get(keys),
    async subscribe(keys, _metadata, handler: ConfigurationUpdateHandler) {
      if (!notificationsAsked) {
        notificationsAsked = true;
        await client.config('SET', 'notify-keyspace-events', 'Kg$xe').catch((err: Error) => {
          ctx.logger.warn(`${NAME}: could not enable keyspace notifications (${err.message}); make sure notify-keyspace-events includes K, g, $, x and e`);
        });
      }
      const id = randomUUID();
      // Named, so an operator (or a test) can find it in CLIENT LIST; ioredis subscribes again after a reconnect.
      const listener = await connectRedis(conn, ctx, NAME, { maxRetriesPerRequest: null, connectionName: `bulwark-configuration-${id}` });
      let chain = Promise.resolve();
      listener.on('pmessage', (_pattern: string, channel: string, event: string) => onEvent(channel, event));
      listener.on('message', (channel: string, event: string) => onEvent(channel, event));
      function onEvent(channel: string, event: string): void {
        if (!channel.startsWith(prefix)) return;
        const key = channel.slice(prefix.length);
        chain = chain.then(async () => {
          try {
            // A deleted (or expired, or evicted) key arrives as null, as Dapr sends a deletion.
            const items: ConfigurationUpdate = event === 'del' || event === 'expired' || event === 'evicted' ? { [key]: null } : await get([key]);
            if (Object.keys(items).length === 0) return;
            await handler(id, items);
          } catch (err) {
            ctx.logger.warn(`${NAME}: update of ${key} not delivered: ${(err as Error).message}`);
          }
        });
      }
      if (keys.length === 0) await listener.psubscribe(`${prefix}*`);
      else await listener.subscribe(...keys.map((k) => prefix + k));
      subs.add(id, { client: listener });
      return id;
    },
    async unsubscribe(id) {
      subs.take(id).client.disconnect();
    },
    async close() {
      for (const s of subs.clear()) s.client.disconnect();
      client.disconnect();
    },
  };
}

async function allKeys(client: Redis): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'COUNT', 1000);
    out.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return out;
}
