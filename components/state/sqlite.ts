// state.sqlite (alias state.sqlite3): the embedded default. One SQLite file in Dapr's table
// layout (state: key, value, is_binary, etag, expiration_time, update_time; metadata: key,
// value with the `migrations` level), so a Dapr sidecar and bulwark can share the file.
// better-sqlite3 is synchronous: each statement is short and runs on the event loop.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { meta, type ComponentContext } from '../../core/component.js';
import {
  ETagError, StateFeature, hasETag, parseTTL, type BulkGetItem, type DeleteRequest, type GetRequest, type GetResponse,
  type SetRequest, type StateStore, type StateValue, type TransactionOperation,
} from '../../core/state/component.js';
import { isTruthy } from '../../resources/decode.js';
import { parseMetadataDuration } from '../../resources/duration.js';

const NAME = /^[A-Za-z0-9_]+$/;

interface Target {
  /** Path for better-sqlite3, or ':memory:'. */
  filename: string;
  readonly: boolean;
  pragmas: string[];
}

/** A plain path (relative to the sidecar's cwd), a `file:` URI, `:memory:` or `file::memory:`. */
export function parseSqliteConnectionString(conn: string, cwd: string): Target {
  const t: Target = { filename: '', readonly: false, pragmas: [] };
  let path = conn.trim();
  let query = '';
  if (path.startsWith('file:')) {
    path = path.slice(5);
    const q = path.indexOf('?');
    if (q >= 0) {
      query = path.slice(q + 1);
      path = path.slice(0, q);
    }
    // file:///abs/path and file://localhost/abs/path carry an (empty) authority.
    if (path.startsWith('//')) {
      const slash = path.indexOf('/', 2);
      const authority = slash < 0 ? path.slice(2) : path.slice(2, slash);
      if (authority !== '' && authority !== 'localhost') throw new Error(`unsupported authority "${authority}" in the connection string`);
      path = slash < 0 ? '' : path.slice(slash);
    }
    path = decodeURIComponent(path);
  }
  const params = new URLSearchParams(query);
  if (params.get('mode') === 'ro') t.readonly = true;
  if (params.get('mode') === 'memory') path = ':memory:';
  for (const p of params.getAll('_pragma')) {
    const name = p.split(/[(=]/)[0]!.trim().toLowerCase();
    if (name === 'busy_timeout' || name === 'journal_mode' || name === 'foreign_keys') {
      throw new Error(`found forbidden option '_pragma=${name}' in the connection string`);
    }
    if (!/^[A-Za-z_]+(\([A-Za-z0-9_.-]*\)|=[A-Za-z0-9_.-]*)?$/.test(p.trim())) throw new Error(`invalid _pragma option "${p}"`);
    t.pragmas.push(p.trim().replace(/\((.*)\)$/, ' = $1'));
  }
  if (path === '' || path === ':memory:') t.filename = ':memory:';
  else t.filename = isAbsolute(path) ? path : resolve(cwd, path);
  return t;
}

type Row = { key: string; value: string; is_binary: number; etag: string; expiration_time: string | null };

class SqliteStore implements StateStore {
  readonly features = [StateFeature.etag, StateFeature.transactional, StateFeature.ttl];
  private readonly getStmt: Database.Statement<[string], Row>;
  private readonly upsertStmt: Database.Statement;
  private readonly insertStmt: Database.Statement;
  private readonly updateStmt: Database.Statement;
  private readonly deleteStmt: Database.Statement;
  private readonly deleteEtagStmt: Database.Statement;
  private readonly multiTx: (ops: readonly TransactionOperation[]) => void;
  private readonly cleanup: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database.Database,
    private readonly table: string,
    metadataTable: string,
    cleanupMs: number,
  ) {
    const live = '(expiration_time IS NULL OR expiration_time > CURRENT_TIMESTAMP)';
    const exp = 'CASE WHEN @ttl IS NULL THEN NULL ELSE DATETIME(CURRENT_TIMESTAMP, @ttl) END';
    this.getStmt = db.prepare(`SELECT key, value, is_binary, etag, expiration_time FROM ${table} WHERE key = ? AND ${live}`);
    this.upsertStmt = db.prepare(
      `INSERT OR REPLACE INTO ${table} (key, value, is_binary, etag, update_time, expiration_time) VALUES (@key, @value, @bin, @etag, CURRENT_TIMESTAMP, ${exp})`,
    );
    // first-write without an ETag: only when no live row exists.
    this.insertStmt = db.prepare(
      `INSERT INTO ${table} (key, value, is_binary, etag, update_time, expiration_time) VALUES (@key, @value, @bin, @etag, CURRENT_TIMESTAMP, ${exp})
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, is_binary = excluded.is_binary, etag = excluded.etag,
         update_time = excluded.update_time, expiration_time = excluded.expiration_time
       WHERE NOT ${live.replace(/expiration_time/g, `${table}.expiration_time`)}`,
    );
    this.updateStmt = db.prepare(
      `UPDATE ${table} SET value = @value, etag = @etag, is_binary = @bin, update_time = CURRENT_TIMESTAMP, expiration_time = ${exp}
       WHERE key = @key AND etag = @old AND ${live}`,
    );
    this.deleteStmt = db.prepare(`DELETE FROM ${table} WHERE key = ?`);
    this.deleteEtagStmt = db.prepare(`DELETE FROM ${table} WHERE key = ? AND etag = ?`);
    const tx = db.transaction((ops: readonly TransactionOperation[]) => {
      for (const op of ops) {
        if (op.operation === 'upsert') this.doSet(op.request);
        else this.doDelete(op.request);
      }
    });
    this.multiTx = (ops) => tx.immediate(ops);
    if (cleanupMs > 0) {
      const gc = db.prepare(`DELETE FROM ${table} WHERE expiration_time IS NOT NULL AND expiration_time < CURRENT_TIMESTAMP`);
      const mark = db.prepare(`INSERT OR REPLACE INTO ${metadataTable} (key, value) VALUES ('last-cleanup', CURRENT_TIMESTAMP)`);
      this.cleanup = setInterval(() => {
        try {
          gc.run();
          mark.run();
        } catch {
          // The next round tries again; expired rows are hidden on read anyway.
        }
      }, cleanupMs);
      this.cleanup.unref();
    }
  }

  private static response(r: Row): GetResponse {
    const data: StateValue = r.is_binary ? Buffer.from(r.value, 'base64') : r.value;
    const res: GetResponse = { data, etag: r.etag };
    if (r.expiration_time) res.metadata = { ttlExpireTime: sqliteTimeToRfc3339(r.expiration_time) };
    return res;
  }

  async get(req: GetRequest): Promise<GetResponse | undefined> {
    const r = this.getStmt.get(req.key);
    return r ? SqliteStore.response(r) : undefined;
  }

  async bulkGet(reqs: readonly GetRequest[]): Promise<BulkGetItem[]> {
    return reqs.map((req) => {
      const r = this.getStmt.get(req.key);
      return r ? { key: req.key, ...SqliteStore.response(r) } : { key: req.key };
    });
  }

  private doSet(req: SetRequest): void {
    const ttl = parseTTL(req.metadata);
    const isBinary = typeof req.value !== 'string';
    const params = {
      key: req.key,
      value: isBinary ? Buffer.from(req.value as Uint8Array).toString('base64') : (req.value as string),
      bin: isBinary ? 1 : 0,
      etag: randomUUID(),
      ttl: ttl !== undefined && ttl > 0 ? `+${ttl} seconds` : null,
      old: req.etag ?? null,
    };
    if (hasETag(req.etag)) {
      if (this.updateStmt.run(params).changes === 0) throw new ETagError('mismatch');
    } else if (req.options.concurrency === 'first-write') {
      if (this.insertStmt.run(params).changes === 0) throw new ETagError('mismatch', 'item already exists and no etag was passed');
    } else {
      this.upsertStmt.run(params);
    }
  }

  private doDelete(req: DeleteRequest): void {
    if (hasETag(req.etag)) {
      if (this.deleteEtagStmt.run(req.key, req.etag).changes === 0) throw new ETagError('mismatch');
    } else {
      this.deleteStmt.run(req.key);
    }
  }

  async set(req: SetRequest): Promise<void> {
    this.doSet(req);
  }

  async delete(req: DeleteRequest): Promise<void> {
    this.doDelete(req);
  }

  async multi(ops: readonly TransactionOperation[]): Promise<void> {
    this.multiTx(ops);
  }

  async close(): Promise<void> {
    if (this.cleanup) clearInterval(this.cleanup);
    this.db.close();
  }
}

/** SQLite's CURRENT_TIMESTAMP text ('YYYY-MM-DD HH:MM:SS', UTC) as RFC 3339. */
function sqliteTimeToRfc3339(s: string): string {
  const iso = s.includes('T') ? s : s.replace(' ', 'T');
  const d = new Date(/Z|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  return Number.isNaN(d.getTime()) ? s : d.toISOString().replace(/\.\d+Z$/, 'Z');
}

export async function createSqliteStateStore(ctx: ComponentContext): Promise<StateStore> {
  const md = ctx.metadata;
  const conn = meta(md, 'connectionString', 'url');
  if (!conn) throw new Error('missing connection string (metadata "connectionString")');
  const table = meta(md, 'tableName') || 'state';
  const metadataTable = meta(md, 'metadataTableName') || 'metadata';
  for (const [k, v] of [['tableName', table], ['metadataTableName', metadataTable]] as const) {
    if (!NAME.test(v)) throw new Error(`invalid ${k} "${v}": use letters, digits and underscores only`);
  }
  const busyMs = durationMs(meta(md, 'busyTimeout'), 2000, 'busyTimeout');
  const timeoutMs = durationMs(meta(md, 'timeout', 'timeoutInSeconds'), 20_000, 'timeout');
  if (timeoutMs < 1000) throw new Error('invalid value for "timeout": must be at least 1s');
  const cleanupMs = durationMs(meta(md, 'cleanupInterval', 'cleanupIntervalInSeconds'), 0, 'cleanupInterval');
  const target = parseSqliteConnectionString(conn, ctx.cwd);
  const inMemory = target.filename === ':memory:';
  if (!inMemory && !target.readonly) mkdirSync(dirname(target.filename), { recursive: true });
  const db = new Database(target.filename, { readonly: target.readonly, timeout: Math.max(0, Math.trunc(busyMs)) });
  try {
    const journal = inMemory ? 'MEMORY' : target.readonly || isTruthy(meta(md, 'disableWAL')) ? 'DELETE' : 'WAL';
    db.pragma(`journal_mode = ${journal}`);
    for (const p of target.pragmas) db.pragma(p);
    if (!target.readonly) migrate(db, table, metadataTable);
    return new SqliteStore(db, table, metadataTable, cleanupMs);
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Dapr's migrations: the level lives under key `migrations` of the metadata table. */
function migrate(db: Database.Database, table: string, metadataTable: string): void {
  const run = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS ${metadataTable} (key text NOT NULL PRIMARY KEY, value text NOT NULL)`);
    const row = db.prepare(`SELECT value FROM ${metadataTable} WHERE key = 'migrations'`).get() as { value: string } | undefined;
    const level = row ? Number(row.value) : 0;
    if (!Number.isInteger(level) || level < 0) throw new Error(`invalid migration level found in metadata table: ${row?.value}`);
    if (level < 1) {
      db.exec(`CREATE TABLE IF NOT EXISTS ${table} (
        key TEXT NOT NULL PRIMARY KEY,
        value TEXT NOT NULL,
        is_binary BOOLEAN NOT NULL,
        etag TEXT NOT NULL,
        expiration_time TIMESTAMP DEFAULT NULL,
        update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
      )`);
      db.prepare(`REPLACE INTO ${metadataTable} (key, value) VALUES ('migrations', ?)`).run('1');
    }
  });
  run.exclusive();
}

function durationMs(v: string | undefined, dflt: number, name: string): number {
  if (v === undefined || v.trim() === '') return dflt;
  const ms = parseMetadataDuration(v);
  if (ms === undefined) throw new Error(`invalid value for "${name}": ${v}`);
  return ms;
}
