// Several machines without Kubernetes: sidecars announce themselves in Redis with a lease.
// Each app id is one sorted set (`<keyPrefix>:<namespace>:<appId>`) whose members are
// `host:port` scored by the lease's expiry in Redis server time (so clocks on the machines
// need not agree). A live sidecar renews its lease every third of the lease; a crashed one
// stops renewing and drops out when the lease ends. Configuration: `redisHost` (host:port,
// default localhost:6379), `redisPassword`, `redisUsername`, `redisDB`, `keyPrefix`
// (default bulwark:nameresolution), `leaseTTL` (Go duration, default 10s).
import { Redis } from 'ioredis';
import { parseGoDuration } from '../../resources/duration.js';
import { configValue, type NameResolver, type PeerAddress, type ResolverContext, type SelfInstance } from './resolver.js';

const NOW_MS = "local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000);";
const RENEW = `if redis.replicate_commands then redis.replicate_commands() end ${NOW_MS}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1]); redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now);
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 3); return 1`;
const LIVE = `${NOW_MS} return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')`;
const CACHE_MS = 1000;

export class RedisResolver implements NameResolver {
  readonly name = 'redis';
  private readonly client: Redis;
  private readonly prefix: string;
  private readonly leaseMs: number;
  private timer: NodeJS.Timeout | undefined;
  private self: { key: string; member: string } | undefined;
  private readonly cache = new Map<string, { at: number; list: PeerAddress[] }>();

  constructor(config: Readonly<Record<string, unknown>>, private readonly ctx: ResolverContext) {
    this.client = redisFromConfig(config, true);
    this.client.on('error', (err: Error) => ctx.logger.debug(`name resolution (redis): ${err.message}`));
    this.prefix = String(configValue(config, 'keyPrefix') ?? 'bulwark:nameresolution');
    const ttl = configValue(config, 'leaseTTL');
    this.leaseMs = (ttl === undefined ? undefined : parseGoDuration(String(ttl))) ?? 10_000;
  }

  private key(appId: string, namespace: string): string {
    return `${this.prefix}:${namespace}:${appId}`;
  }

  async register(self: SelfInstance): Promise<void> {
    await this.client.connect().catch((err: Error) => {
      if (!/already connect/i.test(err.message)) throw err;
    });
    this.self = { key: this.key(self.appId, self.namespace), member: `${self.host}:${self.internalPort}` };
    await this.renew();
    const every = Math.max(100, Math.floor(this.leaseMs / 3));
    const tick = (): void => {
      this.timer = setTimeout(() => {
        this.renew().then(tick, (err: Error) => {
          this.ctx.logger.warn(`name resolution (redis): lease renewal failed: ${err.message}`);
          tick();
        });
      }, every);
      this.timer.unref();
    };
    tick();
  }

  private async renew(): Promise<void> {
    if (!this.self) return;
    await this.client.eval(RENEW, 1, this.self.key, this.self.member, String(this.leaseMs));
  }

  async resolve(appId: string, namespace: string): Promise<PeerAddress[]> {
    const key = this.key(appId, namespace);
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.list;
    if (this.client.status === 'wait') await this.client.connect().catch(() => undefined);
    const members = (await this.client.eval(LIVE, 1, key)) as string[];
    const list = members.map((m) => {
      const colon = m.lastIndexOf(':');
      return { host: m.slice(0, colon), port: Number(m.slice(colon + 1)) };
    });
    this.cache.set(key, { at: Date.now(), list });
    return list;
  }

  markDown(appId: string, namespace: string, address: PeerAddress): void {
    const hit = this.cache.get(this.key(appId, namespace));
    if (hit) hit.list = hit.list.filter((a) => a.host !== address.host || a.port !== address.port);
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    if (this.self) await this.client.zrem(this.self.key, this.self.member).catch(() => undefined);
    this.client.disconnect();
  }
}

/** A Redis client from Configuration `spec.nameResolution.configuration` (also used for actor membership). */
export function redisFromConfig(config: Readonly<Record<string, unknown>>, lazyConnect: boolean): Redis {
  const [host, port] = String(configValue(config, 'redisHost') ?? 'localhost:6379').split(':');
  const password = configValue(config, 'redisPassword');
  const username = configValue(config, 'redisUsername');
  return new Redis({
    host: host || 'localhost',
    port: Number(port || 6379),
    db: Number(configValue(config, 'redisDB') ?? 0),
    lazyConnect,
    maxRetriesPerRequest: 2,
    ...(password ? { password: String(password) } : {}),
    ...(username ? { username: String(username) } : {}),
  });
}
