// What both PostgreSQL state stores (v1 and v2) share: connection settings from Dapr's metadata
// keys, the pool, transactions, Dapr-style migrations under a row lock in the metadata table,
// and the expired-row cleanup that one sidecar at a time runs.
import pg from 'pg';
import { meta, type ComponentContext } from '../../core/component.js';
import type { BulkGetItem, DeleteRequest, GetRequest, GetResponse, SetRequest, TransactionOperation } from '../../core/state/component.js';
import { parseMetadataDuration } from '../../resources/duration.js';
import { createIfMissing } from '../common/postgres-connection.js';

export const TABLE_NAME = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)?$/;

export type Queryable = Pick<pg.PoolClient, 'query'>;

export interface PostgresSetup {
  pool: pg.Pool;
  metadataTable: string;
  cleanupMs: number;
}

/** libpq `key=value` strings (values may be single-quoted) or postgres:// URLs. */
export function parsePostgresConnectionString(conn: string): pg.PoolConfig {
  const s = conn.trim();
  if (/^postgres(ql)?:\/\//i.test(s)) return { connectionString: s };
  const cfg: Record<string, string> = {};
  const re = /\s*([A-Za-z_]+)\s*=\s*('((?:\\.|[^'\\])*)'|\S*)/gy;
  let m: RegExpExecArray | null;
  let pos = 0;
  while (pos < s.length && (m = re.exec(s))) {
    cfg[m[1]!.toLowerCase()] = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[2]!;
    pos = re.lastIndex;
  }
  if (s.slice(pos).trim() !== '') throw new Error('invalid connection string: expected key=value pairs or a postgres:// URL');
  const out: pg.PoolConfig = {};
  if (cfg.host ?? cfg.hostaddr) out.host = (cfg.host ?? cfg.hostaddr)!;
  if (cfg.port) out.port = Number(cfg.port);
  if (cfg.user) out.user = cfg.user;
  if (cfg.password) out.password = cfg.password;
  if (cfg.dbname ?? cfg.database) out.database = (cfg.dbname ?? cfg.database)!;
  if (cfg.application_name) out.application_name = cfg.application_name;
  if (cfg.connect_timeout) out.connectionTimeoutMillis = Number(cfg.connect_timeout) * 1000;
  if (cfg.sslmode && cfg.sslmode !== 'disable') out.ssl = cfg.sslmode === 'require' || cfg.sslmode === 'prefer' ? { rejectUnauthorized: false } : true;
  return out;
}

/** Reads the connection keys shared by v1 and v2 and opens the pool (not yet connected). */
export function openPostgres(ctx: ComponentContext): PostgresSetup {
  const md = ctx.metadata;
  const metadataTable = meta(md, 'metadataTableName') || 'dapr_metadata';
  if (!TABLE_NAME.test(metadataTable)) throw new Error(`invalid metadataTableName "${metadataTable}": use letters, digits and underscores, optionally schema.table`);
  const timeoutMs = durationMs(meta(md, 'timeout', 'timeoutInSeconds'), 20_000, 'timeout');
  if (timeoutMs < 1000) throw new Error('invalid value for "timeout": must be at least 1s');
  const cleanupMs = durationMs(meta(md, 'cleanupInterval', 'cleanupIntervalInSeconds'), 3_600_000, 'cleanupInterval');
  const conn = meta(md, 'connectionString', 'url');
  let cfg: pg.PoolConfig;
  if (conn) cfg = parsePostgresConnectionString(conn);
  else {
    const host = meta(md, 'host', 'hostaddr');
    if (!host) throw new Error('missing connection string (metadata "connectionString", or "host" and friends)');
    cfg = { host };
    const port = meta(md, 'port');
    const database = meta(md, 'database');
    const user = meta(md, 'user');
    const password = meta(md, 'password');
    if (port) cfg.port = Number(port);
    if (database) cfg.database = database;
    if (user) cfg.user = user;
    if (password) cfg.password = password;
  }
  const maxConns = Number(meta(md, 'maxConns') ?? 0);
  cfg.max = maxConns > 0 ? maxConns : 4;
  cfg.connectionTimeoutMillis ??= timeoutMs;
  cfg.query_timeout = timeoutMs;
  cfg.application_name ??= `bulwark-state-${ctx.appId}`;
  const pool = new pg.Pool(cfg);
  // An idle client whose server went away emits here; the pool drops it and opens a new one later.
  pool.on('error', (err) => ctx.logger.warn(`postgresql store ${ctx.name}: ${err.message}`));
  return { pool, metadataTable, cleanupMs };
}

export async function inTransaction<T>(pool: pg.Pool, fn: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackErr) {
      broken = rollbackErr as Error;
    }
    throw err;
  } finally {
    // A client whose rollback failed is not returned to the pool.
    client.release(broken);
  }
}

/**
 * Runs `steps` from the level recorded under `levelKey` in the metadata table, under a row lock
 * on `lock` so that sidecars starting together migrate once. DDL is transactional in
 * PostgreSQL: all or nothing. When `table` does not exist yet every step runs (v1 shares one
 * level between all its tables).
 */
export async function migrate(
  pool: pg.Pool,
  metadataTable: string,
  levelKey: string,
  table: string,
  steps: ReadonlyArray<(tx: pg.PoolClient) => Promise<unknown>>,
  logger: ComponentContext['logger'],
): Promise<void> {
  await createIfMissing(pool, `CREATE TABLE IF NOT EXISTS ${metadataTable} (key text NOT NULL PRIMARY KEY, value text NOT NULL)`);
  await pool.query(`INSERT INTO ${metadataTable} (key, value) VALUES ('lock', 'lock') ON CONFLICT (key) DO NOTHING`);
  await inTransaction(pool, async (tx) => {
    await tx.query(`SELECT value FROM ${metadataTable} WHERE key = 'lock' FOR UPDATE`);
    const r = await tx.query<{ value: string }>(`SELECT value FROM ${metadataTable} WHERE key = $1`, [levelKey]);
    let level = r.rows[0] ? Number(r.rows[0].value) : 0;
    if (!Number.isInteger(level) || level < 0) throw new Error(`invalid migration level found in metadata table: ${r.rows[0]?.value}`);
    const exists = await tx.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [table]);
    if (!exists.rows[0]?.ok) level = 0;
    for (let i = level; i < steps.length; i++) {
      logger.info(`postgresql state store: performing migration ${i + 1} of ${table}`);
      await steps[i]!(tx);
      await tx.query(`INSERT INTO ${metadataTable} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2`, [levelKey, String(i + 1)]);
    }
  });
}

/**
 * Adds `row_id` (a stable identity for paging through keys) to an existing table, backfilled in
 * insertion order, as Dapr's latest migration does for both layouts.
 */
export async function addRowId(tx: pg.PoolClient, table: string, insertedColumn: string): Promise<void> {
  const bare = table.split('.').pop()!;
  await tx.query(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS row_id BIGINT`);
  await tx.query(`WITH ranked AS (SELECT key, ROW_NUMBER() OVER (ORDER BY ${insertedColumn} ASC, key ASC) AS rn FROM ${table} WHERE row_id IS NULL)
    UPDATE ${table} AS t SET row_id = r.rn FROM ranked r WHERE r.key = t.key`);
  await tx.query(`ALTER TABLE ${table} ALTER COLUMN row_id SET NOT NULL`);
  const ident = await tx.query(`SELECT attidentity FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'row_id'`, [table]);
  if (!ident.rows[0]?.attidentity) await tx.query(`ALTER TABLE ${table} ALTER COLUMN row_id ADD GENERATED BY DEFAULT AS IDENTITY`);
  await tx.query(`SELECT setval(pg_get_serial_sequence($1, 'row_id'), COALESCE((SELECT MAX(row_id) FROM ${table}), 0) + 1, false)`, [table]);
  await tx.query(`CREATE UNIQUE INDEX IF NOT EXISTS "${bare}_row_id_uidx" ON ${table} (row_id)`);
}

/** Deletes expired rows every `intervalMs`; the `last-cleanup` row elects one sidecar per round. */
export function scheduleCleanup(setup: PostgresSetup, deleteSql: string, logger: ComponentContext['logger']): NodeJS.Timeout | undefined {
  if (setup.cleanupMs <= 0) return undefined;
  const claim = `INSERT INTO ${setup.metadataTable} (key, value) VALUES ('last-cleanup', now()::text)
    ON CONFLICT (key) DO UPDATE SET value = now()::text
    WHERE (EXTRACT('epoch' FROM now() - ${setup.metadataTable}.value::timestamp with time zone) * 1000)::bigint > $1`;
  const timer = setInterval(() => {
    void (async () => {
      try {
        const r = await setup.pool.query(claim, [Math.max(0, setup.cleanupMs - 1000)]);
        if (r.rowCount === 1) await setup.pool.query(deleteSql);
      } catch (err) {
        logger.debug(`postgresql cleanup failed: ${(err as Error).message}`);
      }
    })();
  }, setup.cleanupMs);
  timer.unref();
  return timer;
}

/** How a table layout is read: the columns selected (key, value, etag, expiry), the condition a live row meets, its expiry column. */
export interface RowLayout {
  cols: string;
  live: string;
  expires: string;
}

/**
 * What the v1 and v2 state stores share around their own row format: reads of live rows by key
 * and by a list of keys, single writes on the pool and several in one transaction, the
 * expired-row cleanup and closing.
 */
export abstract class PostgresRowStore<R extends { key: string }> {
  protected readonly pool: pg.Pool;
  private readonly cleanup: NodeJS.Timeout | undefined;
  private readonly reads: { get: string; bulkGet: string };

  constructor(setup: PostgresSetup, table: string, layout: RowLayout, logger: ComponentContext['logger']) {
    this.pool = setup.pool;
    this.reads = {
      get: `SELECT ${layout.cols} FROM ${table} WHERE key = $1 AND ${layout.live}`,
      bulkGet: `SELECT ${layout.cols} FROM ${table} WHERE key = ANY($1) AND ${layout.live}`,
    };
    this.cleanup = scheduleCleanup(setup, `DELETE FROM ${table} WHERE ${layout.expires} IS NOT NULL AND ${layout.expires} < now()`, logger);
  }

  /** A row as the state API answers it; throws when the row cannot be decoded. */
  protected abstract item(row: R): GetResponse;
  protected abstract doSet(db: Queryable, req: SetRequest): Promise<void>;
  protected abstract doDelete(db: Queryable, req: DeleteRequest): Promise<void>;

  async get(req: GetRequest): Promise<GetResponse | undefined> {
    const r = await this.pool.query<R>(this.reads.get, [req.key]);
    return r.rows[0] ? this.item(r.rows[0]) : undefined;
  }

  async bulkGet(reqs: readonly GetRequest[]): Promise<BulkGetItem[]> {
    const r = await this.pool.query<R>(this.reads.bulkGet, [reqs.map((q) => q.key)]);
    const found = new Map<string, R>();
    for (const row of r.rows) found.set(row.key, row);
    return reqs.map((q) => {
      const row = found.get(q.key);
      if (!row) return { key: q.key };
      try {
        return { key: q.key, ...this.item(row) };
      } catch (err) {
        return { key: q.key, error: (err as Error).message };
      }
    });
  }

  async set(req: SetRequest): Promise<void> {
    await this.doSet(this.pool, req);
  }

  async delete(req: DeleteRequest): Promise<void> {
    await this.doDelete(this.pool, req);
  }

  async multi(ops: readonly TransactionOperation[]): Promise<void> {
    const op = (db: Queryable, o: TransactionOperation): Promise<void> => (o.operation === 'upsert' ? this.doSet(db, o.request) : this.doDelete(db, o.request));
    // One statement is atomic on its own.
    if (ops.length === 1) return op(this.pool, ops[0]!);
    await inTransaction(this.pool, async (tx) => {
      for (const o of ops) await op(tx, o);
    });
  }

  async close(): Promise<void> {
    if (this.cleanup) clearInterval(this.cleanup);
    await this.pool.end();
  }
}

function durationMs(v: string | undefined, dflt: number, name: string): number {
  if (v === undefined || v.trim() === '') return dflt;
  const ms = parseMetadataDuration(v);
  if (ms === undefined) throw new Error(`invalid value for "${name}": ${v}`);
  return ms;
}
