// lock.sqlite: the embedded lock store (bulwark's own; components-contrib has no embedded lock).
// One row per held lock with its owner and expiry time; every operation runs in an IMMEDIATE
// transaction, so sidecars sharing the file (BULWARK_HOME/lock.db by default) never see two
// owners. An expired row counts as absent.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { meta, type ComponentContext } from '../../core/component.js';
import { UnlockStatus, type LockStore } from '../../core/lock/component.js';

const NAME = 'lock.sqlite';

export async function createSqliteLock(ctx: ComponentContext): Promise<LockStore> {
  const file = lockFile(ctx);
  const table = meta(ctx.metadata, 'tableName')?.trim() || 'locks';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new Error(`${NAME}: tableName must be a plain identifier`);
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.exec(`CREATE TABLE IF NOT EXISTS ${table} (key TEXT PRIMARY KEY NOT NULL, owner TEXT NOT NULL, expires_at INTEGER NOT NULL)`);
  const get = db.prepare<[string], { owner: string; expires_at: number }>(`SELECT owner, expires_at FROM ${table} WHERE key = ?`);
  const put = db.prepare(`INSERT OR REPLACE INTO ${table} (key, owner, expires_at) VALUES (?, ?, ?)`);
  const del = db.prepare(`DELETE FROM ${table} WHERE key = ?`);
  const sweep = db.prepare(`DELETE FROM ${table} WHERE expires_at <= ?`);
  const tryLock = db.transaction((key: string, owner: string, expiry: number): boolean => {
    const now = Date.now();
    const row = get.get(key);
    if (row && row.expires_at > now) return false;
    put.run(key, owner, now + expiry * 1000);
    return true;
  });
  const unlock = db.transaction((key: string, owner: string) => {
    const row = get.get(key);
    if (!row || row.expires_at <= Date.now()) return UnlockStatus.lockDoesNotExist;
    if (row.owner !== owner) return UnlockStatus.lockBelongsToOthers;
    del.run(key);
    return UnlockStatus.success;
  });
  // Expired rows are harmless but would pile up; drop them now and then.
  const timer = setInterval(() => {
    try {
      sweep.run(Date.now());
    } catch (err) {
      ctx.logger.debug(`${NAME}: sweeping expired locks failed: ${(err as Error).message}`);
    }
  }, 60_000);
  timer.unref();
  return {
    async tryLock(key, owner, expirySeconds) {
      return tryLock.immediate(key, owner, expirySeconds);
    },
    async unlock(key, owner) {
      return unlock.immediate(key, owner);
    },
    async close() {
      clearInterval(timer);
      db.close();
    },
  };
}

function lockFile(ctx: ComponentContext): string {
  const cs = meta(ctx.metadata, 'connectionString')?.trim();
  if (!cs) return resolve(ctx.homeDir, 'lock.db');
  if (cs === ':memory:') return cs;
  return resolve(ctx.cwd, cs.replace(/^file:/, '').split('?')[0]!);
}
