// Several machines without Kubernetes, on PostgreSQL: each sidecar holds a lease row
// (namespace, app id, host:port, expiry in database time) and renews it every third of the
// lease; resolution reads the rows whose lease has not ended, so a crashed sidecar drops out
// when its lease ends and a stopped one deletes its row at once. Configuration:
// `connectionString` (default postgres://postgres@127.0.0.1:5432/postgres), `tableName`
// (default bulwark_nameresolution), `leaseTTL` (Go duration, default 10s).
import pg from 'pg';
import { parseGoDuration } from '../../resources/duration.js';
import { configValue, type NameResolver, type PeerAddress, type ResolverContext, type SelfInstance } from './resolver.js';
import { createIfMissing } from '../../components/common/postgres-connection.js';

const CACHE_MS = 1000;

export class PostgresResolver implements NameResolver {
  readonly name = 'postgresql';
  private readonly pool: pg.Pool;
  private readonly table: string;
  private readonly leaseMs: number;
  private timer: NodeJS.Timeout | undefined;
  private self: { namespace: string; appId: string; address: string } | undefined;
  private ready: Promise<void> | undefined;
  private readonly cache = new Map<string, { at: number; list: PeerAddress[] }>();

  constructor(config: Readonly<Record<string, unknown>>, private readonly ctx: ResolverContext) {
    this.pool = new pg.Pool({ connectionString: String(configValue(config, 'connectionString') ?? 'postgres://postgres@127.0.0.1:5432/postgres'), max: 4 });
    this.pool.on('error', (err: Error) => ctx.logger.debug(`name resolution (postgresql): ${err.message}`));
    const table = String(configValue(config, 'tableName') ?? 'bulwark_nameresolution');
    if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/.test(table)) throw new Error(`nameResolution postgresql: invalid tableName ${table}`);
    this.table = table;
    const ttl = configValue(config, 'leaseTTL');
    this.leaseMs = (ttl === undefined ? undefined : parseGoDuration(String(ttl))) ?? 10_000;
  }

  private ensureTable(): Promise<void> {
    this.ready ??= createIfMissing(
      this.pool,
      `CREATE TABLE IF NOT EXISTS ${this.table} (namespace text NOT NULL, app_id text NOT NULL, address text NOT NULL, ` +
        `expires_at timestamptz NOT NULL, PRIMARY KEY (namespace, app_id, address))`,
    );
    return this.ready;
  }

  async register(self: SelfInstance): Promise<void> {
    await this.ensureTable();
    this.self = { namespace: self.namespace, appId: self.appId, address: `${self.host}:${self.internalPort}` };
    await this.renew();
    const every = Math.max(100, Math.floor(this.leaseMs / 3));
    const tick = (): void => {
      this.timer = setTimeout(() => {
        this.renew().then(tick, (err: Error) => {
          this.ctx.logger.warn(`name resolution (postgresql): lease renewal failed: ${err.message}`);
          tick();
        });
      }, every);
      this.timer.unref();
    };
    tick();
  }

  private async renew(): Promise<void> {
    const s = this.self;
    if (!s) return;
    await this.pool.query(
      `INSERT INTO ${this.table} (namespace, app_id, address, expires_at) VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond') ` +
        `ON CONFLICT (namespace, app_id, address) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
      [s.namespace, s.appId, s.address, this.leaseMs],
    );
  }

  async resolve(appId: string, namespace: string): Promise<PeerAddress[]> {
    const key = `${appId}.${namespace}`;
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.list;
    await this.ensureTable();
    const { rows } = await this.pool.query<{ address: string }>(`SELECT address FROM ${this.table} WHERE namespace = $1 AND app_id = $2 AND expires_at > now()`, [namespace, appId]);
    const list = rows.map(({ address }) => {
      const colon = address.lastIndexOf(':');
      return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
    });
    this.cache.set(key, { at: Date.now(), list });
    return list;
  }

  markDown(appId: string, namespace: string, address: PeerAddress): void {
    const hit = this.cache.get(`${appId}.${namespace}`);
    if (hit) hit.list = hit.list.filter((a) => a.host !== address.host || a.port !== address.port);
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    const s = this.self;
    if (s) await this.pool.query(`DELETE FROM ${this.table} WHERE namespace = $1 AND app_id = $2 AND address = $3`, [s.namespace, s.appId, s.address]).catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}
