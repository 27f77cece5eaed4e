// state.postgresql (alias state.postgres), version v2: Dapr's v2 layout, table
// `<tablePrefix>state` (key text PK, value bytea, etag uuid, created_at, updated_at, expires_at,
// row_id) with its migration level under `migrations-state-v2-<tablePrefix>`. Values are the
// bytes as given (JSON text for HTTP callers); the ETag is a random UUID per write. No query API.
import { meta, type ComponentContext } from '../../core/component.js';
import {
  ETagError, StateFeature, formatExpireTime, hasETag, parseTTL, type DeleteRequest,
  type GetResponse, type SetRequest, type StateStore,
} from '../../core/state/component.js';
import { addRowId, migrate, openPostgres, PostgresRowStore, type PostgresSetup, type Queryable } from './postgresql-common.js';

const PREFIX = /^([A-Za-z0-9_]+\.)?[A-Za-z0-9_]*$/;
const LIVE = '(expires_at IS NULL OR expires_at >= now())';
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

type Row = { key: string; value: Buffer; etag: string; expires_at: Date | null };

class PostgresV2Store extends PostgresRowStore<Row> implements StateStore {
  readonly features = [StateFeature.etag, StateFeature.transactional, StateFeature.ttl];
  private readonly sql: { upsert: string; insertFirst: string; update: string; del: string; delEtag: string };

  constructor(setup: PostgresSetup, table: string, logger: ComponentContext['logger']) {
    super(setup, table, { cols: 'key, value, etag::text AS etag, expires_at', live: LIVE, expires: 'expires_at' }, logger);
    const exp = `CASE WHEN $3::int > 0 THEN now() + make_interval(secs => $3::int) ELSE NULL END`;
    const set = `value = excluded.value, updated_at = now(), etag = gen_random_uuid(), expires_at = excluded.expires_at`;
    this.sql = {
      upsert: `INSERT INTO ${table} AS t (key, value, etag, expires_at) VALUES ($1, $2, gen_random_uuid(), ${exp}) ON CONFLICT (key) DO UPDATE SET ${set}`,
      // first-write without an ETag: only when no live row exists.
      insertFirst: `INSERT INTO ${table} AS t (key, value, etag, expires_at) VALUES ($1, $2, gen_random_uuid(), ${exp})
        ON CONFLICT (key) DO UPDATE SET ${set} WHERE t.expires_at IS NOT NULL AND t.expires_at < now()`,
      update: `UPDATE ${table} SET value = $2, updated_at = now(), etag = gen_random_uuid(), expires_at = ${exp}
        WHERE key = $1 AND etag = $4::uuid AND ${LIVE}`,
      del: `DELETE FROM ${table} WHERE key = $1`,
      delEtag: `DELETE FROM ${table} WHERE key = $1 AND etag = $2::uuid`,
    };
  }

  protected item(r: Row): GetResponse {
    return r.expires_at ? { data: r.value, etag: r.etag, metadata: { ttlExpireTime: formatExpireTime(r.expires_at.getTime()) } } : { data: r.value, etag: r.etag };
  }

  protected async doSet(db: Queryable, req: SetRequest): Promise<void> {
    const ttl = parseTTL(req.metadata) ?? 0;
    const value = typeof req.value === 'string' ? Buffer.from(req.value) : Buffer.from(req.value);
    if (hasETag(req.etag)) {
      // As in Dapr's v2 store, an ETag that is not a UUID cannot match: a mismatch.
      if (!UUID.test(req.etag)) throw new ETagError('mismatch', `invalid UUID "${req.etag}"`);
      const r = await db.query(this.sql.update, [req.key, value, ttl, req.etag]);
      if (r.rowCount !== 1) throw new ETagError('mismatch');
      return;
    }
    const first = req.options.concurrency === 'first-write';
    const r = await db.query(first ? this.sql.insertFirst : this.sql.upsert, [req.key, value, ttl]);
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
    if (!UUID.test(req.etag)) throw new ETagError('mismatch', `invalid UUID "${req.etag}"`);
    const r = await db.query(this.sql.delEtag, [req.key, req.etag]);
    if (r.rowCount !== 1) throw new ETagError('mismatch');
  }

}

export async function createPostgresV2StateStore(ctx: ComponentContext): Promise<StateStore> {
  const prefix = meta(ctx.metadata, 'tablePrefix') ?? '';
  if (!PREFIX.test(prefix)) throw new Error(`invalid tablePrefix "${prefix}": use letters, digits and underscores, optionally after "schema."`);
  const table = `${prefix}state`;
  const setup = openPostgres(ctx);
  try {
    await migrate(setup.pool, setup.metadataTable, `migrations-state-v2-${prefix}`, table, [
      async (tx) => {
        await tx.query(`CREATE TABLE IF NOT EXISTS ${table} (
          key text NOT NULL PRIMARY KEY,
          value bytea NOT NULL,
          etag uuid NOT NULL DEFAULT gen_random_uuid(),
          created_at timestamp with time zone NOT NULL DEFAULT now(),
          updated_at timestamp with time zone,
          expires_at timestamp with time zone
        )`);
        await tx.query(`CREATE INDEX IF NOT EXISTS "${table.split('.').pop()}_expires_at_idx" ON ${table} (expires_at)`);
      },
      (tx) => addRowId(tx, table, 'created_at'),
    ], ctx.logger);
  } catch (err) {
    await setup.pool.end().catch(() => undefined);
    throw new Error(`postgresql store: ${(err as Error).message}`);
  }
  return new PostgresV2Store(setup, table, ctx.logger);
}
