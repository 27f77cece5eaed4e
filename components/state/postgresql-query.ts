// Translates the state query tree into SQL over Dapr's v1 table (value jsonb). Field paths and
// values are bound as parameters, never spliced into the text. Numbers compare as numbers
// (GT/GTE/LT/LTE accept numbers only, as in Dapr); EQ/NEQ/IN compare the text form of the
// field with the text form of the value, which is how Dapr's PostgreSQL store matches.
import type { QueryFilter, StateQuery } from '../../core/state/component.js';
import { queryPath } from '../../core/state/query.js';

export interface SqlQuery {
  text: string;
  params: unknown[];
  limit: number;
  skip: number;
}

export function buildPostgresQuery(q: StateQuery, table: string, live: string): SqlQuery {
  const params: unknown[] = [];
  const bind = (v: unknown): string => {
    params.push(v);
    return `$${params.length}`;
  };
  const path = (key: string): string => `${bind(queryPath(key))}::text[]`;
  const text = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));
  const visit = (f: QueryFilter): string => {
    switch (f.op) {
      case 'EQ':
        return `(value #>> ${path(f.key)}) = ${bind(text(f.value))}`;
      case 'NEQ':
        return `(value #>> ${path(f.key)}) != ${bind(text(f.value))}`;
      case 'GT':
      case 'GTE':
      case 'LT':
      case 'LTE': {
        if (typeof f.value !== 'number') throw new Error(`unsupported type of value ${JSON.stringify(f.value)}; only numbers are permitted for ${f.op}`);
        const sym = { GT: '>', GTE: '>=', LT: '<', LTE: '<=' }[f.op];
        const p = path(f.key);
        return `(CASE WHEN jsonb_typeof(value #> ${p}) = 'number' THEN (value #>> ${p})::numeric END) ${sym} ${bind(f.value)}::numeric`;
      }
      case 'IN':
        return `(${f.values.map((v) => `(value #>> ${path(f.key)}) = ${bind(text(v))}`).join(' OR ')})`;
      case 'AND':
      case 'OR':
        return `(${f.filters.map(visit).join(` ${f.op} `)})`;
    }
  };
  let sql = `SELECT key, value::text AS value, isbinary, xmin::text AS etag FROM ${table} WHERE ${live}`;
  if (q.filter) sql += ` AND ${visit(q.filter)}`;
  // The key breaks ties so that pages do not overlap.
  if (q.sort.length > 0) {
    sql += ' ORDER BY ' + q.sort.map((s) => `value #> ${path(s.key)}${s.order ? ` ${s.order}` : ''}`).join(', ') + ', key';
  } else if (q.page.limit > 0) {
    sql += ' ORDER BY key';
  }
  let skip = 0;
  if (q.page.token !== undefined) {
    if (!/^\d+$/.test(q.page.token)) throw new Error(`invalid page token "${q.page.token}"`);
    skip = Number(q.page.token);
  }
  if (q.page.limit > 0) sql += ` LIMIT ${q.page.limit}`;
  if (skip > 0) sql += ` OFFSET ${skip}`;
  return { text: sql, params, limit: q.page.limit, skip };
}
