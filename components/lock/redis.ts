// lock.redis: SET key owner NX EX for tryLock, and a Lua script for owner-only unlock that
// answers Dapr's statuses (1 missing, 2 another owner, 0 deleted). Cluster is refused at init.
import type { ComponentContext } from '../../core/component.js';
import { UnlockStatus, type LockStore, type UnlockStatusCode } from '../../core/lock/component.js';
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
