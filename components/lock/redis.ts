// lock.redis: SET key owner NX EX for tryLock, and a Lua script for owner-only unlock that
// answers Dapr's statuses (1 missing, 2 another owner, 0 deleted). Cluster is refused at init,
// and so is a primary with replicas unless `failover` is set.
import { meta, type ComponentContext } from '../../core/component.js';
import { UnlockStatus, type LockStore, type UnlockStatusCode } from '../../core/lock/component.js';
import { isTruthy } from '../../resources/decode.js';
import { connectRedis, redisConnection } from '../common/redis-connection.js';

const NAME = 'lock.redis';

const UNLOCK = `local v = redis.call("get", KEYS[1])
if v == false then return 1 end
if v ~= ARGV[1] then return 2 end
redis.call("del", KEYS[1])
return 0`;

export async function createRedisLock(ctx: ComponentContext): Promise<LockStore> {
  const conn = redisConnection(ctx, NAME);
  const client = await connectRedis(conn, ctx, NAME);
  // A lock on a primary with replicas can be lost on failover to a replica that never saw it:
  // Dapr refuses that set-up unless Sentinel failover is configured.
  const replication = await client.info('replication').catch(() => '');
  const replicas = Number(/connected_slaves:(\d+)/.exec(replication)?.[1] ?? 0);
  if (replicas > 0 && !isTruthy(meta(ctx.metadata, 'failover'))) {
    client.disconnect();
    throw new Error(`${NAME}: Redis at ${conn.where} has ${replicas} replica(s); a lock store needs a single node or Sentinel failover`);
  }
  return {
    async tryLock(key, owner, expirySeconds) {
      const r = await client.set(key, owner, 'EX', expirySeconds, 'NX');
      return r === 'OK';
    },
    async unlock(key, owner) {
      const r = Number(await client.eval(UNLOCK, 1, key, owner));
      return (r === 0 || r === 1 || r === 2 ? r : UnlockStatus.internalError) as UnlockStatusCode;
    },
    async close() {
      client.disconnect();
    },
  };
}
