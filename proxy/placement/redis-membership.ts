// Several machines on Redis: one hash per namespace (`<keyPrefix>:<namespace>:members`, field =
// host id, value = the row with its lease end in Redis server time) and a version counter
// bumped by every join and every expiry. Scripts run atomically in Redis, so all sidecars see
// the same table; clocks of the machines need not agree.
import type { Redis } from 'ioredis';
import { configValue } from '../naming/resolver.js';
import { redisFromConfig } from '../naming/redis-resolver.js';
import type { Member, MembershipStore } from './membership.js';

const NOW_MS = "local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000);";
// KEYS: members, version. ARGV: id, row json, lease ms.
const ANNOUNCE = `if redis.replicate_commands then redis.replicate_commands() end ${NOW_MS}
local isNew = redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({row = cjson.decode(ARGV[2]), exp = now + tonumber(ARGV[3])}))
if isNew then redis.call('INCR', KEYS[2]) end return 1`;
// Drops expired rows (bumping the version) and returns {version, row...}.
const LIST = `if redis.replicate_commands then redis.replicate_commands() end ${NOW_MS}
local all = redis.call('HGETALL', KEYS[1]); local out = {}; local dropped = false
for i = 1, #all, 2 do local v = cjson.decode(all[i + 1])
  if v.exp < now then redis.call('HDEL', KEYS[1], all[i]); dropped = true else table.insert(out, cjson.encode(v.row)) end end
if dropped then redis.call('INCR', KEYS[2]) end
local ver = redis.call('GET', KEYS[2]) or '0'; table.insert(out, 1, ver); return out`;
const WITHDRAW = `if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then redis.call('INCR', KEYS[2]) end return 1`;

export class RedisMembership implements MembershipStore {
  readonly name = 'redis';
  readonly leaseMs: number;
  readonly refreshMs: number;
  private readonly client: Redis;
  private readonly members: string;
  private readonly version: string;

  constructor(config: Readonly<Record<string, unknown>>, namespace: string, leaseMs: number, onError: (err: Error) => void) {
    this.client = redisFromConfig(config, false);
    this.client.on('error', onError);
    const prefix = String(configValue(config, 'actorsKeyPrefix') ?? 'bulwark:placement');
    this.members = `${prefix}:${namespace}:members`;
    this.version = `${prefix}:${namespace}:version`;
    this.leaseMs = leaseMs;
    this.refreshMs = Math.max(100, Math.min(1_000, Math.floor(leaseMs / 4)));
  }

  async announce(self: Member): Promise<void> {
    await this.client.eval(ANNOUNCE, 2, this.members, this.version, self.id, JSON.stringify(self), String(this.leaseMs));
  }

  async list(): Promise<{ members: Member[]; version: number }> {
    const [ver, ...rows] = (await this.client.eval(LIST, 2, this.members, this.version)) as string[];
    return { version: Number(ver), members: rows.map((r) => JSON.parse(r) as Member) };
  }

  async withdraw(self: Member): Promise<void> {
    await this.client.eval(WITHDRAW, 2, this.members, this.version, self.id);
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}
