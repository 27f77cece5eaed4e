// Several machines on PostgreSQL: a row per hosting sidecar with its lease end in database
// time, and a one-row version table bumped in the same transaction as every join, expiry or
// leave, so every reader sees a table and its version that agree.
import pg from 'pg';
import { configValue } from '../naming/resolver.js';
import type { Member, MembershipStore } from './membership.js';

export class PostgresMembership implements MembershipStore {
  readonly name = 'postgresql';
  readonly leaseMs: number;
  readonly refreshMs: number;
  private readonly pool: pg.Pool;
  private readonly table: string;
  private ready: Promise<void> | undefined;

  constructor(config: Readonly<Record<string, unknown>>, private readonly namespace: string, leaseMs: number, onError: (err: Error) => void) {
    this.pool = new pg.Pool({ connectionString: String(configValue(config, 'connectionString') ?? 'postgres://postgres@127.0.0.1:5432/postgres'), max: 3 });
    this.pool.on('error', onError);
    const table = String(configValue(config, 'actorsTableName') ?? 'bulwark_actor_members');
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new Error(`actor placement (postgresql): invalid actorsTableName ${table}`);
    this.table = table;
    this.leaseMs = leaseMs;
    this.refreshMs = Math.max(100, Math.min(1_000, Math.floor(leaseMs / 4)));
  }

  private ensure(): Promise<void> {
    this.ready ??= (async () => {
      const c = await this.pool.connect();
      try {
        // Serialise the first creation between sidecars starting together.
        await c.query('SELECT pg_advisory_lock(hashtext($1))', [this.table]);
        await c.query(`CREATE TABLE IF NOT EXISTS ${this.table} (namespace text NOT NULL, id text NOT NULL, row jsonb NOT NULL, expires_at timestamptz NOT NULL, PRIMARY KEY (namespace, id))`);
        await c.query(`CREATE TABLE IF NOT EXISTS ${this.table}_version (namespace text PRIMARY KEY, version bigint NOT NULL)`);
        await c.query('SELECT pg_advisory_unlock(hashtext($1))', [this.table]);
      } finally {
        c.release();
      }
    })();
    return this.ready;
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.ensure();
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const r = await fn(c);
      await c.query('COMMIT');
      return r;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  private bump(c: pg.PoolClient): Promise<unknown> {
    return c.query(`INSERT INTO ${this.table}_version (namespace, version) VALUES ($1, 1) ON CONFLICT (namespace) DO UPDATE SET version = ${this.table}_version.version + 1`, [this.namespace]);
  }

  announce(self: Member): Promise<void> {
    return this.tx(async (c) => {
      const r = await c.query<{ inserted: boolean }>(
        `INSERT INTO ${this.table} (namespace, id, row, expires_at) VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond') ` +
          `ON CONFLICT (namespace, id) DO UPDATE SET row = EXCLUDED.row, expires_at = EXCLUDED.expires_at RETURNING (xmax = 0) AS inserted`,
        [this.namespace, self.id, JSON.stringify(self), this.leaseMs],
      );
      if (r.rows[0]?.inserted) await this.bump(c);
    });
  }

  list(): Promise<{ members: Member[]; version: number }> {
    return this.tx(async (c) => {
      const gone = await c.query(`DELETE FROM ${this.table} WHERE namespace = $1 AND expires_at <= now()`, [this.namespace]);
      if ((gone.rowCount ?? 0) > 0) await this.bump(c);
      const rows = await c.query<{ row: Member }>(`SELECT row FROM ${this.table} WHERE namespace = $1`, [this.namespace]);
      const v = await c.query<{ version: string }>(`SELECT version FROM ${this.table}_version WHERE namespace = $1`, [this.namespace]);
      return { members: rows.rows.map((r) => r.row), version: Number(v.rows[0]?.version ?? 0) };
    });
  }

  withdraw(self: Member): Promise<void> {
    return this.tx(async (c) => {
      const r = await c.query(`DELETE FROM ${this.table} WHERE namespace = $1 AND id = $2`, [this.namespace, self.id]);
      if ((r.rowCount ?? 0) > 0) await this.bump(c);
    });
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
