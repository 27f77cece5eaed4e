// configuration.sqlite: bulwark's embedded configuration store for local development (Dapr has
// no embedded one). Items live in a SQLite table (BULWARK_HOME/configuration.db by default)
// with Dapr's columns key, value, version and metadata (JSON text); edit them with any SQLite
// client. Subscriptions poll the file's data_version every `pollInterval` and deliver the keys
// whose row changed (a deleted key arrives as null, as Dapr's Redis store sends a deletion).
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { meta, type ComponentContext } from '../../core/component.js';
import { SubscriptionTable, type ConfigurationItem, type ConfigurationItems, type ConfigurationStore, type ConfigurationUpdate, type ConfigurationUpdateHandler } from '../../core/configuration/component.js';
import { parseMetadataDuration } from '../../resources/duration.js';

const NAME = 'configuration.sqlite';

interface Row {
  key: string;
  value: string;
  version: string | null;
  metadata: string | null;
}

interface Sub {
  keys: readonly string[];
  handler: ConfigurationUpdateHandler;
  chain: Promise<void>;
}

export async function createSqliteConfigurationStore(ctx: ComponentContext): Promise<ConfigurationStore> {
  const file = dbFile(ctx);
  const table = meta(ctx.metadata, 'tableName', 'table')?.trim() || 'configuration';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new Error(`${NAME}: tableName must be a plain identifier`);
  const pollRaw = meta(ctx.metadata, 'pollInterval')?.trim();
  const pollMs = pollRaw ? parseMetadataDuration(pollRaw) : 200;
  if (pollMs === undefined || pollMs <= 0) throw new Error(`${NAME}: pollInterval must be a positive duration`);
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.exec(`CREATE TABLE IF NOT EXISTS ${table} (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL, version TEXT NOT NULL DEFAULT '', metadata TEXT)`);
  const all = db.prepare<[], Row>(`SELECT key, value, version, metadata FROM ${table}`);
  const one = db.prepare<[string], Row>(`SELECT key, value, version, metadata FROM ${table} WHERE key = ?`);
  const subs = new SubscriptionTable<Sub>();
  let snapshot = new Map<string, string>();
  let dataVersion = -1;
  let timer: NodeJS.Timeout | undefined;

  const readVersion = (): number => db.pragma('data_version', { simple: true }) as number;
  const rowsNow = (): Map<string, Row> => new Map(all.all().map((r) => [r.key, r]));
  const fingerprint = (r: Row): string => JSON.stringify([r.value, r.version, r.metadata]);

  function poll(): void {
    try {
      const v = readVersion();
      if (v === dataVersion) return;
      dataVersion = v;
      const rows = rowsNow();
      const changed: ConfigurationUpdate = {};
      for (const [k, r] of rows) if (snapshot.get(k) !== fingerprint(r)) changed[k] = itemOf(r);
      for (const k of snapshot.keys()) if (!rows.has(k)) changed[k] = null;
      snapshot = new Map([...rows].map(([k, r]) => [k, fingerprint(r)]));
      if (Object.keys(changed).length === 0) return;
      for (const [id, sub] of subsEntries()) {
        const items: ConfigurationUpdate = {};
        for (const [k, it] of Object.entries(changed)) if (sub.keys.length === 0 || sub.keys.includes(k)) items[k] = it;
        if (Object.keys(items).length === 0) continue;
        sub.chain = sub.chain.then(() => sub.handler(id, items).catch((err: Error) => ctx.logger.warn(`${NAME}: update not delivered: ${err.message}`)));
      }
    } catch (err) {
      ctx.logger.warn(`${NAME}: polling ${file} failed: ${(err as Error).message}`);
    }
  }

  const ids = new Map<Sub, string>();
  const subsEntries = (): Array<[string, Sub]> => [...subs.values()].map((s) => [ids.get(s)!, s]);

  return {
    async get(keys) {
      const out: ConfigurationItems = {};
      if (keys.length === 0) for (const r of all.all()) out[r.key] = itemOf(r);
      else for (const k of keys) {
        const r = one.get(k);
        if (r) out[k] = itemOf(r);
      }
      return out;
    },
    async subscribe(keys, _metadata, handler) {
      if (!timer) {
        dataVersion = readVersion();
        snapshot = new Map([...rowsNow()].map(([k, r]) => [k, fingerprint(r)]));
        timer = setInterval(poll, pollMs);
        timer.unref();
      }
      const id = randomUUID();
      const sub: Sub = { keys: [...keys], handler, chain: Promise.resolve() };
      ids.set(sub, id);
      subs.add(id, sub);
      return id;
    },
    async unsubscribe(id) {
      ids.delete(subs.take(id));
      if (subs.size === 0 && timer) {
        clearInterval(timer);
        timer = undefined;
      }
    },
    async close() {
      if (timer) clearInterval(timer);
      subs.clear();
      db.close();
    },
  };
}

function itemOf(r: Row): ConfigurationItem {
  const md: Record<string, string> = {};
  if (r.metadata) {
    try {
      const parsed = JSON.parse(r.metadata) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        for (const [k, v] of Object.entries(parsed)) md[k] = typeof v === 'string' ? v : JSON.stringify(v);
      }
    } catch {
      // Not JSON: no metadata.
    }
  }
  return { value: r.value, version: r.version ?? '', metadata: md };
}

function dbFile(ctx: ComponentContext): string {
  const cs = meta(ctx.metadata, 'connectionString')?.trim();
  if (!cs) return resolve(ctx.homeDir, 'configuration.db');
  if (cs === ':memory:') return cs;
  return resolve(ctx.cwd, cs.replace(/^file:/, '').split('?')[0]!);
}
