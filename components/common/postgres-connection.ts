// Dapr's PostgreSQL connection keys (components-contrib common/authentication/postgresql):
// a connection string (libpq key=value or URL, alias `url`) or the discrete keys, plus
// maxConns and timeout.
import pg from 'pg';
import { meta, type ComponentContext } from '../../core/component.js';
import { parseMetadataDuration } from '../../resources/duration.js';

export function postgresConfig(ctx: ComponentContext, component: string): pg.PoolConfig {
  const md = ctx.metadata;
  const cs = meta(md, 'connectionString', 'url')?.trim();
  const cfg: pg.PoolConfig = {};
  if (cs) {
    if (/^postgres(ql)?:\/\//i.test(cs)) cfg.connectionString = cs;
    else Object.assign(cfg, parseKeyValue(cs, component));
  } else {
    const host = meta(md, 'host', 'hostaddr')?.trim();
    if (!host) throw new Error(`${component}: metadata "connectionString" is required`);
    cfg.host = host;
    const port = meta(md, 'port')?.trim();
    if (port) cfg.port = Number(port);
    const db = meta(md, 'database')?.trim();
    if (db) cfg.database = db;
    const user = meta(md, 'user')?.trim();
    if (user) cfg.user = user;
    const password = meta(md, 'password');
    if (password) cfg.password = password;
  }
  const maxConns = Number(meta(md, 'maxConns')?.trim() || 0);
  cfg.max = maxConns > 0 ? maxConns : 4;
  const timeout = timeoutMs(md, component);
  cfg.connectionTimeoutMillis = timeout;
  // Dapr bounds each database call by `timeout` as well.
  cfg.query_timeout = timeout;
  return cfg;
}

/** `timeout` (alias `timeoutInSeconds`), default 20s, at least 1s. */
export function timeoutMs(md: Readonly<Record<string, string>>, component: string): number {
  const raw = meta(md, 'timeout', 'timeoutInSeconds')?.trim();
  if (!raw) return 20_000;
  const ms = parseMetadataDuration(raw);
  if (ms === undefined) throw new Error(`${component}: metadata "timeout" is not a duration: "${raw}"`);
  if (ms < 1000) throw new Error(`${component}: metadata "timeout" must be at least 1s`);
  return ms;
}

function parseKeyValue(cs: string, component: string): pg.PoolConfig {
  const out: Record<string, string> = {};
  const re = /\s*([A-Za-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S*))/g;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(cs)) !== null) {
    out[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
    consumed = re.lastIndex;
  }
  if (cs.slice(consumed).trim() !== '') throw new Error(`${component}: cannot parse connectionString`);
  const cfg: pg.PoolConfig = {};
  if (out.host ?? out.hostaddr) cfg.host = (out.host ?? out.hostaddr)!;
  if (out.port) cfg.port = Number(out.port);
  if (out.dbname ?? out.database) cfg.database = (out.dbname ?? out.database)!;
  if (out.user) cfg.user = out.user;
  if (out.password) cfg.password = out.password;
  if (out.connect_timeout) cfg.connectionTimeoutMillis = Number(out.connect_timeout) * 1000;
  if (out.application_name) cfg.application_name = out.application_name;
  if (out.sslmode && out.sslmode !== 'disable') cfg.ssl = out.sslmode === 'require' ? { rejectUnauthorized: false } : true;
  return cfg;
}

/**
 * Runs a `CREATE ... IF NOT EXISTS` that several sidecars may run at the same moment: PostgreSQL
 * can then fail one of them on its catalog's unique index (23505) or with 42P07, although the
 * object now exists. Those two are retried a few times; anything else is thrown.
 */
export async function createIfMissing(pool: pg.Pool, ddl: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await pool.query(ddl);
      return;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if ((code !== '23505' && code !== '42P07') || attempt >= 3) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
