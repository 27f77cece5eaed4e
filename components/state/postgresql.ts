// state.postgresql (alias state.postgres), version v1: Dapr's v1 table layout (key text PK,
// value jsonb, isbinary, insertdate, updatedate, expiredate, row_id) with the migration level
// kept under `migrations` in the metadata table, so Dapr and bulwark share one database. The
// ETag is the row's xmin. Expired rows are hidden on read and deleted by a periodic cleanup.
import { meta, type ComponentContext } from '../../core/component.js';
import {
  ETagError, StateFeature, formatExpireTime, hasETag, parseTTL, type DeleteRequest,
  type GetResponse, type QueryResponse, type SetRequest, type StateQuery, type StateStore, type StateValue,
} from '../../core/state/component.js';
import { addRowId, migrate, openPostgres, PostgresRowStore, TABLE_NAME, type PostgresSetup, type Queryable } from './postgresql-common.js';
import { buildPostgresQuery } from './postgresql-query.js';

export { parsePostgresConnectionString } from './postgresql-common.js';

const LIVE = '(expiredate IS NULL OR expiredate >= CURRENT_TIMESTAMP)';

type Row = { key: string; value: string; isbinary: boolean; etag: string; expiredate: Date | null };

class PostgresStore extends PostgresRowStore<Row> implements StateStore {
  readonly features = [StateFeature.etag, StateFeature.transactional, StateFeature.ttl, StateFeature.query];
  private readonly sql: { upsert: string; insertFirst: string; update: string; del: string; delEtag: string };

  constructor(
    setup: PostgresSetup,
    private readonly table: string,
    logger: ComponentContext['logger'],
  ) {
    super(setup, table, { cols: 'key, value::text AS value, isbinary, xmin::text AS etag, expiredate', live: LIVE, expires: 'expiredate' }, logger);
    const exp = `CASE WHEN $4::int > 0 THEN CURRENT_TIMESTAMP + make_interval(secs => $4::int) ELSE NULL END`;
    this.sql = {
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
  }

  protected item(r: Row): GetResponse {
    let data: StateValue = r.value;
    if (r.isbinary) data = Buffer.from(JSON.parse(r.value) as string, 'base64');
    return r.expiredate ? { data, etag: r.etag, metadata: { ttlExpireTime: formatExpireTime(r.expiredate.getTime()) } } : { data, etag: r.etag };
  }

  protected async doSet(db: Queryable, req: SetRequest): Promise<void> {
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

  protected async doDelete(db: Queryable, req: DeleteRequest): Promise<void> {
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

  async query(q: StateQuery): Promise<QueryResponse> {
    const built = buildPostgresQuery(q, this.table, LIVE);
    const r = await this.pool.query<Row>(built.text, built.params);
    const results = r.rows.map((row) => {
      const it = this.item(row);
      return { key: row.key, data: it.data, etag: it.etag };
    });
    const res: QueryResponse = { results };
    if (built.limit > 0) res.token = String(built.skip + results.length);
    return res;
  }

}

export async function createPostgresStateStore(ctx: ComponentContext): Promise<StateStore> {
  const table = meta(ctx.metadata, 'tableName') || 'state';
  if (!TABLE_NAME.test(table)) throw new Error(`invalid tableName "${table}": use letters, digits and underscores, optionally schema.table`);
  const setup = openPostgres(ctx);
  try {
    // Dapr's v1 migrations, levels 1-3, under the key `migrations`.
    await migrate(setup.pool, setup.metadataTable, 'migrations', table, [
      (tx) => tx.query(`CREATE TABLE IF NOT EXISTS ${table} (
          key text NOT NULL PRIMARY KEY,
          value jsonb NOT NULL,
          isbinary boolean NOT NULL,
          insertdate TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
          updatedate TIMESTAMP WITH TIME ZONE NULL
        )`),
      (tx) => tx.query(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS expiredate TIMESTAMP WITH TIME ZONE`),
      (tx) => addRowId(tx, table, 'insertdate'),
    ], ctx.logger);
  } catch (err) {
    await setup.pool.end().catch(() => undefined);
    throw new Error(`postgresql store: ${(err as Error).message}`);
  }
  return new PostgresStore(setup, table, ctx.logger);
}
