// Dapr's common Redis connection keys (components-contrib common/component/redis) for the
// bindings, configuration and lock components: redisHost[:port], credentials, DB, TLS, dial
// timeout. Redis settings read a bare integer as milliseconds, else a Go duration.
import { Redis, type RedisOptions } from 'ioredis';
import { meta, type ComponentContext } from '../../core/component.js';
import { isTruthy } from '../../resources/decode.js';
import { parseGoDuration } from '../../resources/duration.js';

export interface RedisConnection {
  options: RedisOptions;
  /** host:port for messages. */
  where: string;
  db: number;
}

export function redisDuration(md: Readonly<Record<string, string>>, key: string, fallback: number, component: string): number {
  const raw = meta(md, key)?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (/^-?\d+$/.test(raw)) return Number(raw);
  const d = parseGoDuration(raw);
  if (d === undefined) throw new Error(`${component}: metadata "${key}" is not a duration: "${raw}"`);
  return d;
}

export function redisConnection(ctx: ComponentContext, component: string): RedisConnection {
  const md = ctx.metadata;
  const hostPort = meta(md, 'redisHost')?.trim();
  if (!hostPort) throw new Error(`${component}: metadata "redisHost" is required`);
  if (meta(md, 'redisType')?.trim().toLowerCase() === 'cluster') throw new Error(`${component}: redisType "cluster" is not supported`);
  const idx = hostPort.lastIndexOf(':');
  const hasPort = idx > 0 && /^\d+$/.test(hostPort.slice(idx + 1));
  const host = hasPort ? hostPort.slice(0, idx) : hostPort;
  const portRaw = meta(md, 'redisPort')?.trim();
  const port = hasPort ? Number(hostPort.slice(idx + 1)) : portRaw ? Number(portRaw) : 6379;
  if (hasPort && portRaw && Number(portRaw) !== port) throw new Error(`${component}: redisPort ${portRaw} conflicts with the port in redisHost ${hostPort}`);
  const dbRaw = meta(md, 'redisDB')?.trim();
  const db = dbRaw ? Number(dbRaw) : 0;
  if (!Number.isInteger(db) || db < 0) throw new Error(`${component}: metadata "redisDB" must be a non-negative integer`);
  const maxRetries = Number(meta(md, 'redisMaxRetries', 'maxRetries')?.trim() || 3);
  const options: RedisOptions = {
    host,
    port,
    db,
    username: meta(md, 'redisUsername') || undefined,
    password: meta(md, 'redisPassword') || undefined,
    connectTimeout: redisDuration(md, 'dialTimeout', 5000, component),
    lazyConnect: true,
    maxRetriesPerRequest: Number.isFinite(maxRetries) && maxRetries >= 0 ? maxRetries : 3,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    tls: isTruthy(meta(md, 'enableTLS')) ? { rejectUnauthorized: !isTruthy(meta(md, 'insecureSkipTLSVerify')) } : undefined,
  };
  return { options, where: `${host}:${port}`, db };
}

/** Connects a client, logging reconnect errors once per outage instead of throwing them. */
export async function connectRedis(conn: RedisConnection, ctx: ComponentContext, component: string, extra: RedisOptions = {}): Promise<Redis> {
  const client = new Redis({ ...conn.options, ...extra });
  let down = false;
  client.on('error', (err: Error) => {
    if (!down) ctx.logger.warn(`${component}: Redis at ${conn.where}: ${err.message}`);
    down = true;
  });
  client.on('ready', () => {
    down = false;
  });
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw new Error(`${component}: cannot connect to Redis at ${conn.where}: ${(err as Error).message}`, { cause: err });
  }
  return client;
}
