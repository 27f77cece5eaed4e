// configuration.postgresql: items live in a user-created table with Dapr's columns KEY, VALUE,
// VERSION and METADATA (json); init fails when the table does not exist. Subscriptions LISTEN
// on a channel (component `notifyChannel`, else request metadata `pgNotifyChannel`) that a
// user-created trigger feeds with pg_notify(channel, {"data": <row as JSON>, ...}), as Dapr's
// documentation shows.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { meta, type ComponentContext } from '../../core/component.js';
import { SubscriptionTable, type ConfigurationItem, type ConfigurationItems, type ConfigurationStore } from '../../core/configuration/component.js';
import { postgresConfig } from '../common/postgres-connection.js';

const NAME = 'configuration.postgresql';
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;
const CHANNEL = /^[A-Za-z0-9_]+$/;

interface Sub {
  client: pg.Client | undefined;
  stopped: boolean;
  retry?: NodeJS.Timeout;
}

async function stop(sub: Sub): Promise<void> {
  sub.stopped = true;
  clearTimeout(sub.retry);
  await sub.client?.end().catch(() => undefined);
}

export async function createPostgresConfigurationStore(ctx: ComponentContext): Promise<ConfigurationStore> {
  const table = meta(ctx.metadata, 'table')?.trim();
  if (!table) throw new Error(`${NAME}: metadata "table" is required`);
  if (!IDENT.test(table)) throw new Error(`${NAME}: table name "${table}" is not a valid identifier`);
  const defaultChannel = meta(ctx.metadata, 'notifyChannel', 'pgNotifyChannel')?.trim();
  const config = postgresConfig(ctx, NAME);
  const pool = new pg.Pool(config);
  pool.on('error', (err) => ctx.logger.warn(`${NAME}: idle connection error: ${err.message}`));
  try {
    const [schema, name] = table.includes('.') ? table.split('.') : [undefined, table];
    const r = await pool.query(
      `SELECT 1 FROM information_schema.tables WHERE lower(table_name) = lower($1) AND ($2::text IS NULL OR lower(table_schema) = lower($2)) LIMIT 1`,
      [name, schema ?? null],
    );
    if (r.rowCount === 0) throw new Error(`postgreSQL configuration table '${table}' does not exist`);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new Error(`${NAME}: ${(err as Error).message}`, { cause: err });
  }
  const subs = new SubscriptionTable<Sub>();

  return {
    async get(keys) {
      const res = keys.length > 0
        ? await pool.query(`SELECT key, value, version, metadata FROM ${table} WHERE key = ANY($1::text[])`, [keys])
        : await pool.query(`SELECT key, value, version, metadata FROM ${table}`);
      const out: ConfigurationItems = {};
      for (const row of res.rows as Array<Record<string, unknown>>) out[String(row.key)] = itemOf(row);
      return out;
    },
    async subscribe(keys, metadata, handler) {
      const channel = defaultChannel || meta(metadata, 'pgNotifyChannel')?.trim();
      if (!channel) throw new Error('the notification channel is missing: set the component metadata "notifyChannel" or the request metadata "pgNotifyChannel"');
      if (!CHANNEL.test(channel)) throw new Error(`notification channel "${channel}" may hold only letters, digits and underscores`);
      const id = randomUUID();
      const sub: Sub = { client: undefined, stopped: false };
      let chain = Promise.resolve();
      const onNotification = (n: pg.Notification): void => {
        if (n.channel !== channel.toLowerCase() && n.channel !== channel) return;
        const update = parseNotification(n.payload);
        if (!update) {
          ctx.logger.warn(`${NAME}: ignoring a notification on ${channel} without a "data" row`);
          return;
        }
        if (keys.length > 0 && !keys.includes(update.key)) return;
        chain = chain.then(() => handler(id, { [update.key]: update.item }).catch((err: Error) => ctx.logger.warn(`${NAME}: update not delivered: ${err.message}`)));
      };
      // One connection per subscription; a lost one is replaced and LISTENs again.
      const listen = async (): Promise<void> => {
        const client = new pg.Client(config);
        client.on('error', (err) => ctx.logger.warn(`${NAME}: listener for ${channel}: ${err.message}`));
        client.on('notification', onNotification);
        client.on('end', () => {
          if (sub.stopped) return;
          ctx.logger.warn(`${NAME}: listener for ${channel} lost its connection; listening again`);
          const retry = (): void => {
            if (sub.stopped) return;
            listen().catch((err: Error) => {
              ctx.logger.warn(`${NAME}: listening on ${channel} again failed: ${err.message}`);
              sub.retry = setTimeout(retry, 1000);
            });
          };
          sub.retry = setTimeout(retry, 200);
        });
        try {
          await client.connect();
          await client.query(`LISTEN ${channel}`);
        } catch (err) {
          client.removeAllListeners('end');
          await client.end().catch(() => undefined);
          throw err;
        }
        sub.client = client;
      };
      await listen();
      subs.add(id, sub);
      return id;
    },
    async unsubscribe(id) {
      await stop(subs.take(id));
    },
    async close() {
      await Promise.all(subs.clear().map(stop));
      await pool.end();
    },
  };
}

function itemOf(row: Record<string, unknown>): ConfigurationItem {
  const md: Record<string, string> = {};
  let raw = row.metadata;
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw);
    } catch {
      raw = undefined;
    }
  }
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    for (const [k, v] of Object.entries(raw)) md[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return { value: row.value == null ? '' : String(row.value), version: row.version == null ? '' : String(row.version), metadata: md };
}

function parseNotification(payload: string | undefined): { key: string; item: ConfigurationItem } | undefined {
  if (!payload) return undefined;
  try {
    const p = JSON.parse(payload) as { data?: Record<string, unknown> };
    if (!p.data || typeof p.data !== 'object') return undefined;
    // row_to_json keeps the column names as the table has them (unquoted: lower-case).
    const lower: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(p.data)) lower[k.toLowerCase()] = v;
    if (lower.key == null) return undefined;
    return { key: String(lower.key), item: itemOf(lower) };
  } catch {
    return undefined;
  }
}
