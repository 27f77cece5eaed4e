// Parses the alpha1 state query document into the tree stores translate. The rules follow
// Dapr's query package: a filter unit is an object with exactly one operator; comparisons hold
// exactly one key/value pair; IN takes an array; AND/OR take at least two units.
import type { QueryFilter, StateQuery } from './component.js';

const COMPARISONS = new Set(['EQ', 'NEQ', 'GT', 'GTE', 'LT', 'LTE']);

/** Throws an Error whose message says what is wrong with the document. */
export function parseStateQuery(text: string): StateQuery {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`failed to parse JSON query body: ${(err as Error).message}`);
  }
  if (!isObject(doc)) throw new Error('failed to parse JSON query body: the query must be a JSON object');
  const q: StateQuery = { sort: [], page: { limit: 0 } };
  const filter = field(doc, 'filter');
  if (filter !== undefined && filter !== null && !(isObject(filter) && Object.keys(filter).length === 0)) {
    q.filter = parseFilter(filter);
  }
  const sort = field(doc, 'sort');
  if (sort !== undefined && sort !== null) {
    if (!Array.isArray(sort)) throw new Error('sort must be an array');
    for (const s of sort) {
      if (!isObject(s) || typeof field(s, 'key') !== 'string') throw new Error('each sort entry needs a string "key"');
      const order = field(s, 'order') ?? '';
      if (order !== '' && order !== 'ASC' && order !== 'DESC') throw new Error(`invalid sort order ${JSON.stringify(order)}: use ASC or DESC`);
      q.sort.push({ key: field(s, 'key') as string, order: order as 'ASC' | 'DESC' | '' });
    }
  }
  const page = field(doc, 'page');
  if (page !== undefined && page !== null) {
    if (!isObject(page)) throw new Error('page must be an object');
    const limit = field(page, 'limit') ?? 0;
    if (typeof limit !== 'number' || !Number.isInteger(limit)) throw new Error('page.limit must be an integer');
    q.page.limit = limit;
    const token = field(page, 'token');
    if (token !== undefined && token !== null && token !== '') {
      if (typeof token !== 'string') throw new Error('page.token must be a string');
      q.page.token = token;
    }
  }
  return q;
}

function parseFilter(unit: unknown): QueryFilter {
  if (!isObject(unit)) throw new Error('filter unit must be a map');
  const ops = Object.keys(unit);
  if (ops.length !== 1) throw new Error('filter unit must have a single element');
  const op = ops[0]!;
  const body = unit[op];
  if (COMPARISONS.has(op)) {
    const [key, value] = single(op, body);
    return { op: op as 'EQ', key, value };
  }
  if (op === 'IN') {
    const [key, values] = single(op, body);
    if (!Array.isArray(values)) throw new Error('IN filter value must be an array');
    if (values.length === 0) throw new Error(`empty IN operator for key "${key}"`);
    return { op: 'IN', key, values };
  }
  if (op === 'AND' || op === 'OR') {
    if (!Array.isArray(body)) throw new Error(`${op} filter must be an array`);
    if (body.length < 2) throw new Error(`${op} filter must contain at least two entries`);
    return { op, filters: body.map(parseFilter) };
  }
  throw new Error(`unsupported filter "${op}"`);
}

function single(op: string, body: unknown): [string, unknown] {
  if (!isObject(body)) throw new Error(`${op} filter must be a map`);
  const keys = Object.keys(body);
  if (keys.length !== 1) throw new Error(`${op} filter must contain a single key/value pair`);
  return [keys[0]!, body[keys[0]!]];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Go's JSON decoder matches struct fields case-insensitively. */
function field(o: Record<string, unknown>, name: string): unknown {
  if (name in o) return o[name];
  for (const k in o) if (k.toLowerCase() === name) return o[k];
  return undefined;
}

/** Dotted path of a query key inside the stored value (`person.org` -> ['person', 'org']). */
export function queryPath(key: string): string[] {
  return key.split('.');
}
