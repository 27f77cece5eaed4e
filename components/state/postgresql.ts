// state.postgresql (alias state.postgres), version v1: Dapr's v1 table layout (key text PK,
// value jsonb, isbinary, insertdate, updatedate, expiredate, row_id) with the migration level
// kept under `migrations` in the metadata table, so Dapr and bulwark share one database. The
// ETag is the row's xmin. Expired rows are hidden on read and deleted by a periodic cleanup.
import pg from 'pg';
import { meta, type ComponentContext } from '../../core/component.js';
import {
  ETagError, StateFeature, formatExpireTime, hasETag, parseTTL, type BulkGetItem, type DeleteRequest, type GetRequest,
  type GetResponse, type QueryResponse, type SetRequest, type StateQuery, type StateStore, type StateValue,
  type TransactionOperation,
} from '../../core/state/component.js';
import { parseMetadataDuration } from '../../resources/duration.js';
import { buildPostgresQuery } from './postgresql-query.js';

const TABLE = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)?$/;
const LIVE = '(expiredate IS NULL OR expiredate >= CURRENT_TIMESTAMP)';

type Queryable = Pick<pg.PoolClient, 'query'>;
type Row = { key: string; value: string; isbinary: boolean; etag: string; expiredate: Date | null };

class PostgresStore implements StateStore {
  readonly features = [StateFeature.etag, StateFeature.transactional, StateFeature.ttl, StateFeature.query];
  private readonly sql: {
    get: string; bulkGet: string; upsert: string; insertFirst: string; update: string; del: string; delEtag: string;
  };
  private readonly cleanup: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly table: string,
    metadataTable: string,
    cleanupMs: number,
    logger: ComponentContext['logger'],
  ) {
    const cols = `key, value::text AS value, isbinary, xmin::text AS etag, expiredate`;
    const exp = `CASE WHEN $4::int > 0 THEN CURRENT_TIMESTAMP + make_interval(secs => $4::int) ELSE NULL END`;
    this.sql = {
      get: `SELECT ${cols} FROM ${table} WHERE key = $1 AND ${LIVE}`,
      bulkGet: `SELECT ${cols} FROM ${table} WHERE key = ANY($1) AND ${LIVE}`,
      upsert: `INSERT INTO ${table} AS t (key, value, isbinary, expiredate) VALUES ($1, $2::jsonb, $3, ${exp})
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, isbinary = excluded.isbinary,
          updatedate = CURRENT_TIMESTAMP, expiredate = excluded.expiredate`,
      // first-write without an ETag: only when no live row exists.
      insertFirst: `INSERT INTO ${table} AS t (key, value, isbinary, expiredate) VALUES ($1, $2::jsonb, $3, ${exp})
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, isbinary = excluded.isbinary,
          updatedate = CURRENT_TIMESTAMP, expiredate = excluded.expiredate
        WHERE t.expiredate IS NOT NULL AND t.expiredate < CURRENT_TIMESTAMP`,
      update: `UPDATE ${table} SET value = $2::jsonb, isbinary = $3, updatedate = CURRENT_TIMESTAMP, expiredate = ${exp}
        WHERE key = $1 AND xmin::text = $5 AND ${LIVE}`,
      del: `DELETE FROM ${table} WHERE key = $1`,
      delEtag: `DELETE FROM ${table} WHERE key = $1 AND xmin::text = $2`,
    };
    if (cleanupMs > 0) {
      // One sidecar cleans per interval: the `last-cleanup` row in the metadata table says who.
      const claim = `INSERT INTO ${metadataTable} (key, value) VALUES ('last-cleanup', now()::text)
        ON CONFLICT (key) DO UPDATE SET value = now()::text
        WHERE (EXTRACT('epoch' FROM now() - ${metadataTable}.value::timestamp with time zone) * 1000)::bigint > $1`;
      this.cleanup = setInterval(() => {
        void (async () => {
          try {
            const r = await pool.query(claim, [Math.max(0, cleanupMs - 1000)]);
            if (r.rowCount === 1) await pool.query(`DELETE FROM ${table} WHERE expiredate IS NOT NULL AND expiredate < now()`);
          } catch (err) {
            logger.debug(`postgresql cleanup failed: ${(err as Error).message}`);
          }
        })();
      }, cleanupMs);
      this.cleanup.unref();
    }
  }

  private static item(r: Row): { data: StateValue; etag: string; metadata?: Record<string, string> } {
    let data: StateValue = r.value;
    if (r.isbinary) data = Buffer.from(JSON.parse(r.value) as string, 'base64');
    return r.expiredate ? { data, etag: r.etag, metadata: { ttlExpireTime: formatExpireTime(r.expiredate.getTime()) } } : { data, etag: r.etag };
  }

  async get(req: GetRequest): Promise<GetResponse | undefined> {
    const r = await this.pool.query<Row>(this.sql.get, [req.key]);
    return r.rows[0] ? PostgresStore.item(r.rows[0]) : undefined;
  }

  async bulkGet(reqs: readonly GetRequest[]): Promise<BulkGetItem[]> {
    const r = await this.pool.query<Row>(this.sql.bulkGet, [reqs.map((q) => q.key)]);
    const found = new Map<string, Row>();
    for (const row of r.rows) found.set(row.key, row);
    return reqs.map((q) => {
      const row = found.get(q.key);
      if (!row) return { key: q.key };
      try {
        return { key: q.key, ...PostgresStore.item(row) };
      } catch (err) {
        return { key: q.key, error: (err as Error).message };
      }
    });
  }

  private async doSet(db: Queryable, req: SetRequest): Promise<void> {
    const ttl = parseTTL(req.metadata) ?? 0;
    const isBinary = typeof req.value !== 'string';
    const value = isBinary ? JSON.stringify(Buffer.from(req.value as Uint8Array).toString('base64')) : (req.value as string);
    if (hasETag(req.etag)) {
      if (!/^\d+$/.test(req.etag) || Number(req.etag) > 0xffffffff) {
        throw new ETagError('invalid', `strconv.ParseUint: parsing "${req.etag}": invalid syntax`);
      }
      const r = await db.query(this.sql.update, [req.key, value, isBinary, ttl, String(Number(req.etag))]);
      if (r.rowCount !== 1) throw new ETagError('mismatch');
      return;
    }
    const first = req.options.concurrency === 'first-write';
    const r = await db.query(first ? this.sql.insertFirst : this.sql.upsert, [req.key, value, isBinary, ttl]);
    if (r.rowCount !== 1) {
      if (first) throw new ETagError('mismatch', 'item already exists and no etag was passed');
      throw new Error('no item was updated');
    }
  }

  private async doDelete(db: Queryable, req: DeleteRequest): Promise<void> {
    if (!hasETag(req.etag)) {
      await db.query(this.sql.del, [req.key]);
      return;
    }
    if (!/^\d+$/.test(req.etag) || Number(req.etag) > 0xffffffff) {
      throw new ETagError('invalid', `strconv.ParseUint: parsing "${req.etag}": invalid syntax`);
    }
    const r = await db.query(this.sql.delEtag, [req.key, String(Number(req.etag))]);
    if (r.rowCount !== 1) throw new ETagError('mismatch');
  }

  async set(req: SetRequest): Promise<void> {
    await this.doSet(this.pool, req);
  }

  async delete(req: DeleteRequest): Promise<void> {
    await this.doDelete(this.pool, req);
  }

  async multi(ops: readonly TransactionOperation[]): Promise<void> {
    if (ops.length === 1) {
      const op = ops[0]!;
      return op.operation === 'upsert' ? this.doSet(this.pool, op.request) : this.doDelete(this.pool, op.request);
    }
    await inTransaction(this.pool, async (tx) => {
      for (const op of ops) {
        if (op.operation === 'upsert') await this.doSet(tx, op.request);
        else await this.doDelete(tx, op.request);
      }
    });
  }

  async query(q: StateQuery): Promise<QueryResponse> {
    const built = buildPostgresQuery(q, this.table, LIVE);
    const r = await this.pool.query<Row>(built.text, built.params);
    const results = r.rows.map((row) => {
      const it = PostgresStore.item(row);
      return { key: row.key, data: it.data, etag: it.etag };
    });
    const res: QueryResponse = { results };
    if (built.limit > 0) res.token = String(built.skip + results.length);
    return res;
  }

  async close(): Promise<void> {
    if (this.cleanup) clearInterval(this.cleanup);
    await this.pool.end();
  }
}

async function inTransaction<T>(pool: pg.Pool, fn: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
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

export async function createPostgresStateStore(ctx: ComponentContext): Promise<StateStore> {
  const md = ctx.metadata;
  const table = meta(md, 'tableName') || 'state';
  const metadataTable = meta(md, 'metadataTableName') || 'dapr_metadata';
  for (const [k, v] of [['tableName', table], ['metadataTableName', metadataTable]] as const) {
    if (!TABLE.test(v)) throw new Error(`invalid ${k} "${v}": use letters, digits and underscores, optionally schema.table`);
  }
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
  try {
    await migrate(pool, table, metadataTable, ctx.logger);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new Error(`postgresql store: ${(err as Error).message}`);
  }
  return new PostgresStore(pool, table, metadataTable, cleanupMs, ctx.logger);
}

/**
 * Dapr's v1 migrations, levels 1-3, under a row lock on `lock` in the metadata table so that
 * sidecars starting together migrate once. DDL is transactional in PostgreSQL: all or nothing.
 */
async function migrate(pool: pg.Pool, table: string, metadataTable: string, logger: ComponentContext['logger']): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await pool.query(`CREATE TABLE IF NOT EXISTS ${metadataTable} (key text NOT NULL PRIMARY KEY, value text NOT NULL)`);
      break;
    } catch (err) {
      // Concurrent CREATE TABLE IF NOT EXISTS may collide on the catalog's unique index.
      if ((err as { code?: string }).code !== '23505' || attempt >= 3) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await pool.query(`INSERT INTO ${metadataTable} (key, value) VALUES ('lock', 'lock') ON CONFLICT (key) DO NOTHING`);
  await inTransaction(pool, async (tx) => {
    await tx.query(`SELECT value FROM ${metadataTable} WHERE key = 'lock' FOR UPDATE`);
    const r = await tx.query<{ value: string }>(`SELECT value FROM ${metadataTable} WHERE key = 'migrations'`);
    let level = r.rows[0] ? Number(r.rows[0].value) : 0;
    if (!Number.isInteger(level) || level < 0) throw new Error(`invalid migration level found in metadata table: ${r.rows[0]?.value}`);
    // The level is shared by every table using this metadata table; a new table starts over.
    const exists = await tx.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [table]);
    if (!exists.rows[0]?.ok) level = 0;
    const steps = [
      () => tx.query(`CREATE TABLE IF NOT EXISTS ${table} (
          key text NOT NULL PRIMARY KEY,
          value jsonb NOT NULL,
          isbinary boolean NOT NULL,
          insertdate TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
          updatedate TIMESTAMP WITH TIME ZONE NULL
        )`),
      () => tx.query(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS expiredate TIMESTAMP WITH TIME ZONE`),
      async () => {
        // row_id: a stable identity for paging through keys, backfilled in insertion order.
        const bare = table.split('.').pop()!;
        await tx.query(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS row_id BIGINT`);
        await tx.query(`WITH ranked AS (SELECT key, ROW_NUMBER() OVER (ORDER BY insertdate ASC, key ASC) AS rn FROM ${table} WHERE row_id IS NULL)
          UPDATE ${table} AS t SET row_id = r.rn FROM ranked r WHERE r.key = t.key`);
        await tx.query(`ALTER TABLE ${table} ALTER COLUMN row_id SET NOT NULL`);
        const ident = await tx.query(`SELECT attidentity FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'row_id'`, [table]);
        if (!ident.rows[0]?.attidentity) await tx.query(`ALTER TABLE ${table} ALTER COLUMN row_id ADD GENERATED BY DEFAULT AS IDENTITY`);
        await tx.query(`SELECT setval(pg_get_serial_sequence($1, 'row_id'), COALESCE((SELECT MAX(row_id) FROM ${table}), 0) + 1, false)`, [table]);
        await tx.query(`CREATE UNIQUE INDEX IF NOT EXISTS "${bare}_row_id_uidx" ON ${table} (row_id)`);
      },
    ];
    for (let i = level; i < steps.length; i++) {
      logger.info(`postgresql state store: performing migration ${i + 1}`);
      await steps[i]!();
      await tx.query(`INSERT INTO ${metadataTable} (key, value) VALUES ('migrations', $1) ON CONFLICT (key) DO UPDATE SET value = $1`, [String(i + 1)]);
    }
  });
}

function durationMs(v: string | undefined, dflt: number, name: string): number {
  if (v === undefined || v.trim() === '') return dflt;
  const ms = parseMetadataDuration(v);
  if (ms === undefined) throw new Error(`invalid value for "${name}": ${v}`);
  return ms;
}
