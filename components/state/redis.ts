// state.redis: each key is a Redis hash in Dapr's layout, `data` (the serialized value) and
// `version` (an integer bumped on every write; it is the ETag), plus `first-write` once a write
// used first-write concurrency. Writes run as one Lua script that checks every ETag before it
// writes anything, so a transaction is all or nothing (Dapr's MULTI pipeline is not).
import { Redis, type RedisOptions } from 'ioredis';
import { meta, type ComponentContext } from '../../core/component.js';
import {
  ETagError, StateFeature, formatExpireTime, hasETag, parseTTL, type DeleteRequest, type GetRequest, type GetResponse,
  type SetRequest, type StateStore, type TransactionOperation,
} from '../../core/state/component.js';
import { isTruthy } from '../../resources/decode.js';
import { redisDuration } from '../common/redis-connection.js';

// KEYS: one per operation. ARGV: five slots per operation: kind ('s' set, 'd' delete), ETag
// ('0' = none), data, first-write ('0' = first-write), TTL seconds ('' = keep none: PERSIST).
// Pass 1 simulates every operation against the current versions (so a key written twice in one
// transaction is checked in order); pass 2 applies them. A failed check writes nothing.
const WRITE_SCRIPT = `
local sim = {}
local function current(k)
  local s = sim[k]
  if s == nil then
    local v = redis.pcall('HGET', k, 'version')
    if type(v) == 'table' then v = false end
    local fw = redis.pcall('HEXISTS', k, 'first-write')
    if type(fw) == 'table' then fw = 0 end
    s = { v = v, fw = (fw == 1) }
    sim[k] = s
  end
  return s
end
for i = 1, #KEYS do
  local b = (i - 1) * 5
  local kind, etag = ARGV[b + 1], ARGV[b + 2]
  local s = current(KEYS[i])
  local absent = (not s.v) or s.v == ''
  if kind == 's' then
    if not (absent or s.v == etag or ((not s.fw) and etag == '0')) then
      return redis.error_reply('ETAG_MISMATCH ' .. (i - 1))
    end
    s.v = tostring((absent and 0 or tonumber(s.v) or 0) + 1)
    if ARGV[b + 4] == '0' then s.fw = true end
  else
    if not (absent or s.v == etag or etag == '0') then
      return redis.error_reply('ETAG_MISMATCH ' .. (i - 1))
    end
    s.v = false
    s.fw = false
  end
end
local out = {}
for i = 1, #KEYS do
  local b = (i - 1) * 5
  local k = KEYS[i]
  if ARGV[b + 1] == 's' then
    if type(redis.pcall('HGET', k, 'version')) == 'table' then redis.call('DEL', k) end
    redis.call('HSET', k, 'data', ARGV[b + 3])
    if ARGV[b + 4] == '0' then redis.call('HSET', k, 'first-write', 0) end
    out[i] = redis.call('HINCRBY', k, 'version', 1)
    local ttl = tonumber(ARGV[b + 5])
    if ttl and ttl > 0 then redis.call('EXPIRE', k, ttl) else redis.call('PERSIST', k) end
  else
    redis.call('DEL', k)
    out[i] = 0
  end
end
return out
`;

// Hash values in Dapr's layout; plain strings (values written before ETags existed) are read
// too. Returns { data, version, pttl } or nil.
const READ_SCRIPT = `
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'hash' then
  local d = redis.call('HMGET', KEYS[1], 'data', 'version')
  if not d[1] or not d[2] then
    return redis.error_reply("required hash field 'data' or 'version' was not found")
  end
  return { d[1], d[2], redis.call('PTTL', KEYS[1]) }
elseif t == 'string' then
  return { redis.call('GET', KEYS[1]), '', redis.call('PTTL', KEYS[1]) }
end
return false
`;

interface ScriptedRedis extends Redis {
  bulwarkStateWrite(numKeys: number, ...args: Array<string | Buffer>): Promise<number[]>;
  bulwarkStateRead(key: string): Promise<[string, string, number] | null>;
}

class RedisStore implements StateStore {
  readonly features = [StateFeature.etag, StateFeature.transactional, StateFeature.ttl];

  constructor(
    private readonly client: ScriptedRedis,
    private readonly defaultTTL: number | undefined,
    private readonly where: string,
    /** Replicas seen at start-up: a write with `consistency: strong` waits for them (Dapr's rule). */
    private readonly replicas: number,
  ) {}

  async get(req: GetRequest): Promise<GetResponse | undefined> {
    const r = await this.call(() => this.client.bulwarkStateRead(req.key));
    if (!r) return undefined;
    const res: GetResponse = { data: r[0], etag: r[1] === '' ? undefined : r[1] };
    if (r[2] > 0) res.metadata = { ttlExpireTime: formatExpireTime(Date.now() + r[2]) };
    return res;
  }

  private setArgs(req: SetRequest, out: Array<string | Buffer>): void {
    const ttl = parseTTL(req.metadata) ?? this.defaultTTL;
    let etag = '0';
    if (req.options.concurrency !== 'last-write' && hasETag(req.etag)) {
      if (!/^-?\d+$/.test(req.etag)) throw new ETagError('invalid', `strconv.Atoi: parsing "${req.etag}": invalid syntax`);
      etag = String(Number(req.etag));
    }
    const data = typeof req.value === 'string' ? req.value : Buffer.from(req.value);
    out.push('s', etag, data, req.options.concurrency === 'first-write' ? '0' : '1', ttl === undefined ? '' : String(ttl));
  }

  private deleteArgs(req: DeleteRequest, out: Array<string | Buffer>): void {
    out.push('d', hasETag(req.etag) ? req.etag : '0', '', '1', '');
  }

  async set(req: SetRequest): Promise<void> {
    const args: Array<string | Buffer> = [req.key];
    this.setArgs(req, args);
    await this.write(1, args);
    if (req.options.consistency === 'strong' && this.replicas > 0) {
      const acked = Number(await this.client.call('WAIT', this.replicas, 1000));
      if (acked < this.replicas) throw new Error(`redis waiting for ${this.replicas} replicas to acknowledge write, only ${acked} did`);
    }
  }

  async delete(req: DeleteRequest): Promise<void> {
    const args: Array<string | Buffer> = [req.key];
    this.deleteArgs(req, args);
    await this.write(1, args);
  }

  async multi(ops: readonly TransactionOperation[]): Promise<void> {
    const keys: string[] = [];
    const argv: Array<string | Buffer> = [];
    for (const op of ops) {
      keys.push(op.request.key);
      if (op.operation === 'upsert') this.setArgs(op.request, argv);
      else this.deleteArgs(op.request, argv);
    }
    await this.write(keys.length, [...keys, ...argv]);
  }

  private async write(numKeys: number, args: Array<string | Buffer>): Promise<void> {
    try {
      await this.call(() => this.client.bulwarkStateWrite(numKeys, ...args));
    } catch (err) {
      const msg = (err as Error).message ?? '';
      if (msg.includes('ETAG_MISMATCH')) {
        const i = Number(msg.split('ETAG_MISMATCH ')[1] ?? 0);
        const verb = args[numKeys + i * 5] === 'd' ? 'delete' : 'set';
        throw new ETagError('mismatch', `failed to ${verb} key ${String(args[i])}`);
      }
      throw err;
    }
  }

  /**
   * Connection failures get a message that names the server: the ones seen before a command
   * (not connected) and the ones a command meets (the connection dropped after the status check,
   * a timeout). A reply from the server (a script's error, WRONGTYPE) is passed on as it is.
   */
  private call<T>(op: () => Promise<T>): Promise<T> {
    if (this.client.status !== 'ready') return Promise.reject(new Error(`redis store: not connected to ${this.where} (${this.client.status})`));
    return op().catch(this.nameServer);
  }

  private readonly nameServer = (err: Error): never => {
    if (err.name === 'ReplyError') throw err;
    throw new Error(`redis store: ${this.where}: ${err.message}`, { cause: err });
  };

  async close(): Promise<void> {
    this.client.disconnect();
  }
}

export async function createRedisStateStore(ctx: ComponentContext): Promise<StateStore> {
  const md = ctx.metadata;
  const hostSetting = meta(md, 'redisHost');
  if (!hostSetting) throw new Error('redis store: missing metadata "redisHost"');
  if ((meta(md, 'redisType') ?? 'node').toLowerCase() === 'cluster') throw new Error('redis store: redisType "cluster" is not supported yet');
  const first = hostSetting.split(',')[0]!.trim();
  const colon = first.lastIndexOf(':');
  const host = colon > 0 ? first.slice(0, colon) : first;
  const portSetting = meta(md, 'redisPort');
  const hostPort = colon > 0 ? Number(first.slice(colon + 1)) : undefined;
  if (hostPort !== undefined && portSetting && Number(portSetting) !== hostPort) {
    throw new Error(`redis store: redisPort ${portSetting} conflicts with the port in redisHost ${first}`);
  }
  const port = hostPort ?? (portSetting ? Number(portSetting) : 6379);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`redis store: invalid port in "${first}"`);
  const ttlSetting = meta(md, 'ttlInSeconds');
  let defaultTTL: number | undefined;
  if (ttlSetting !== undefined && ttlSetting !== '') {
    if (!/^-?\d+$/.test(ttlSetting.trim())) throw new Error(`redis store: invalid ttlInSeconds "${ttlSetting}"`);
    defaultTTL = Number(ttlSetting.trim());
  }
  const readTimeout = redisDuration(md, 'readTimeout', 3000, 'redis store');
  const opts: RedisOptions = {
    host,
    port,
    db: Number(meta(md, 'redisDB') ?? 0) || 0,
    connectTimeout: redisDuration(md, 'dialTimeout', 5000, 'redis store'),
    maxRetriesPerRequest: Number(meta(md, 'redisMaxRetries', 'maxRetries') ?? 3),
    // Fail fast while the server is away (the resiliency policy may retry); reconnect forever.
    enableOfflineQueue: false,
    lazyConnect: true,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    connectionName: `bulwark-state-${ctx.appId}`,
    // Commands issued in the same tick go out in one write.
    enableAutoPipelining: true,
  };
  if (readTimeout > 0) opts.commandTimeout = readTimeout;
  let where = `${host}:${port}`;
  if (isTruthy(meta(md, 'failover'))) {
    // Sentinel: redisHost lists the sentinels; the master is looked up by name (and again after a failover).
    const master = meta(md, 'sentinelMasterName');
    if (!master) throw new Error('redis store: failover needs metadata "sentinelMasterName"');
    opts.sentinels = hostSetting.split(',').map((h) => {
      const [sh, sp] = h.trim().split(':');
      return { host: sh!, port: sp ? Number(sp) : 26379 };
    });
    opts.name = master;
    where = `master ${master} via sentinel ${first}`;
    const su = meta(md, 'sentinelUsername');
    const sp = meta(md, 'sentinelPassword');
    if (su) opts.sentinelUsername = su;
    if (sp) opts.sentinelPassword = sp;
    delete opts.host;
    delete opts.port;
  }
  const username = meta(md, 'redisUsername');
  const password = meta(md, 'redisPassword');
  if (username) opts.username = username;
  if (password) opts.password = password;
  if (isTruthy(meta(md, 'enableTLS'))) opts.tls = { rejectUnauthorized: isTruthy(meta(md, 'insecureSkipTLSVerify')) ? false : true };
  const client = new Redis(opts) as ScriptedRedis;
  client.defineCommand('bulwarkStateWrite', { lua: WRITE_SCRIPT });
  client.defineCommand('bulwarkStateRead', { lua: READ_SCRIPT, numberOfKeys: 1 });
  // Errors surface on calls; without a listener ioredis would print every reconnect failure.
  let lastError = '';
  client.on('error', (err: Error) => {
    if (err.message !== lastError) ctx.logger.warn(`redis store ${ctx.name}: ${err.message}`);
    lastError = err.message;
  });
  client.on('ready', () => {
    if (lastError) ctx.logger.info(`redis store ${ctx.name}: connected again to ${where}`);
    lastError = '';
  });
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw new Error(`redis store: error connecting to redis at ${where}: ${(err as Error).message}`);
  }
  // INFO replication on the master: `connected_slaves:<n>`.
  const info = await client.info('replication').catch(() => '');
  const replicas = Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? 0);
  return new RedisStore(client, defaultTTL, where, replicas);
}
