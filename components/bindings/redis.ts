// bindings.redis (output): create (SET, then EXPIRE with request metadata ttlInSeconds), get
// (GET, or GETDEL with delete=true; a missing key answers an empty body), delete (DEL) and
// increment (INCR, optional TTL). Every operation needs request metadata `key`.
import { meta, type ComponentContext } from '../../core/component.js';
import { bindingFeatures, type Binding, type BindingInvokeRequest } from '../../core/bindings/component.js';
import { isTruthy } from '../../resources/decode.js';
import { connectRedis, redisConnection } from '../common/redis-connection.js';

const NAME = 'bindings.redis';

export async function createRedisBinding(ctx: ComponentContext): Promise<Binding> {
  const client = await connectRedis(redisConnection(ctx, NAME), ctx, NAME);

  function ttlOf(req: BindingInvokeRequest): number | undefined {
    const raw = req.metadata.ttlInSeconds;
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n)) throw new Error(`error parsing ttlInSeconds: ${raw}`);
    return n;
  }

  return {
    features: bindingFeatures(meta(ctx.metadata, 'direction'), { input: false, output: true }),
    operations: () => ['create', 'get', 'delete', 'increment'],
    async invoke(req) {
      const key = req.metadata.key;
      if (!key) throw new Error('redis binding: missing key in request metadata');
      switch (req.operation) {
        case 'create': {
          const ttl = ttlOf(req);
          await client.set(key, req.data);
          if (ttl !== undefined && ttl > 0) await client.expire(key, ttl);
          return undefined;
        }
        case 'get': {
          const v = isTruthy(req.metadata.delete) ? await client.getdelBuffer(key) : await client.getBuffer(key);
          return { data: v ?? Buffer.alloc(0) };
        }
        case 'delete':
          await client.del(key);
          return undefined;
        case 'increment': {
          const ttl = ttlOf(req);
          await client.incr(key);
          if (ttl !== undefined && ttl > 0) await client.expire(key, ttl);
          return undefined;
        }
        default:
          throw new Error(`invalid operation type: ${req.operation}`);
      }
    },
    async close() {
      client.disconnect();
    },
  };
}
