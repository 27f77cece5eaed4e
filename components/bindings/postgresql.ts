// bindings.postgresql (alias bindings.postgres, output): exec and query with request metadata
// `sql` and optional `params` (a JSON array bound to $1..$n), and close. query answers a JSON
// array of rows, each an array of column values. Every answer carries the metadata operation,
// sql, start-time, end-time (RFC 3339) and duration, exec also rows-affected.
import pg from 'pg';
import { meta, type ComponentContext } from '../../core/component.js';
import { bindingFeatures, type Binding, type BindingInvokeRequest } from '../../core/bindings/component.js';
import { formatGoDuration } from '../../resources/duration.js';
import { postgresConfig } from '../common/postgres-connection.js';

const NAME = 'bindings.postgresql';

export async function createPostgresBinding(ctx: ComponentContext): Promise<Binding> {
  const pool = new pg.Pool(postgresConfig(ctx, NAME));
  pool.on('error', (err) => ctx.logger.warn(`${NAME}: idle connection error: ${err.message}`));
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new Error(`${NAME}: cannot connect: ${(err as Error).message}`, { cause: err });
  }
  let closed = false;

  function sqlAndParams(req: BindingInvokeRequest): { sql: string; params: unknown[] } {
    const sql = req.metadata.sql;
    if (!sql) throw new Error(`required metadata not set: sql`);
    const raw = req.metadata.params;
    if (raw === undefined || raw === '') return { sql, params: [] };
    let params: unknown;
    try {
      params = JSON.parse(raw);
    } catch (err) {
      throw new Error(`invalid params: ${(err as Error).message}`);
    }
    if (!Array.isArray(params)) throw new Error('invalid params: must be a JSON array');
    // Objects and arrays bind as their JSON text (json/jsonb columns).
    return { sql, params: params.map((p) => (p !== null && typeof p === 'object' ? JSON.stringify(p) : p)) };
  }

  return {
    features: bindingFeatures(meta(ctx.metadata, 'direction'), { input: false, output: true }),
    operations: () => ['exec', 'query', 'close'],
    async invoke(req) {
      const start = new Date();
      const started = performance.now();
      const md: Record<string, string> = { operation: req.operation };
      const finish = (): void => {
        const end = new Date();
        md['start-time'] = rfc3339(start);
        md['end-time'] = rfc3339(end);
        md.duration = formatGoDuration(Math.round((performance.now() - started) * 1000) / 1000);
      };
      if (req.operation === 'close') {
        if (!closed) {
          closed = true;
          await pool.end();
        }
        finish();
        return { metadata: md };
      }
      if (closed) throw new Error('the connection pool is closed');
      const { sql, params } = sqlAndParams(req);
      md.sql = sql;
      if (req.operation === 'exec') {
        const r = await pool.query(sql, params);
        md['rows-affected'] = String(r.rowCount ?? 0);
        finish();
        return { metadata: md };
      }
      if (req.operation === 'query') {
        const r = await pool.query({ text: sql, values: params, rowMode: 'array' });
        finish();
        return { data: Buffer.from(JSON.stringify(r.rows)), metadata: md, contentType: 'application/json' };
      }
      throw new Error(`invalid operation type: ${req.operation}. Expected exec, query or close`);
    },
    async close() {
      if (!closed) {
        closed = true;
        await pool.end();
      }
    },
  };
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, (_m, ms: string) => (ms === '000' ? 'Z' : `.${ms.replace(/0+$/, '')}Z`));
}
