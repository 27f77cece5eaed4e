// HTTP handlers of the state API (v1.0 and the v1.0-alpha1 query). Bodies are decoded with the
// same strictness as Dapr's Go decoders: wrong shapes are 400 ERR_MALFORMED_REQUEST.
import { DaprError } from '../errors.js';
import type { Exchange, Route } from '../http.js';
import type { BulkGetItem, Concurrency, Consistency, StateOptions, StateValue, TransactionOperation } from './component.js';
import type { SaveItem, StateService } from './service.js';

export function stateRoutes(state: StateService): Route[] {
  const save = async (ex: Exchange): Promise<void> => {
    const store = ex.params.store!;
    state.check(store);
    const body = await ex.json();
    if (!Array.isArray(body)) throw malformed('json: cannot unmarshal the body into a list of state items');
    if (body.length === 0) return ex.sendEmpty(204);
    const query = ex.queryMetadata();
    const items: SaveItem[] = new Array(body.length);
    for (let i = 0; i < body.length; i++) {
      const raw = body[i] as unknown;
      if (!isObject(raw)) throw malformed(`json: cannot unmarshal item ${i} into a state item`);
      const key = optString(raw, 'key', i);
      if (!key) throw malformed('"key" is a required field');
      const md = stringMap(raw, 'metadata', i);
      for (const k in query) md[k] = query[k]!;
      items[i] = {
        key,
        value: raw.value === undefined ? 'null' : JSON.stringify(raw.value),
        etag: optString(raw, 'etag', i),
        metadata: md,
        options: options(raw, i),
      };
    }
    await state.save(store, items);
    ex.sendEmpty(204);
  };

  const bulk = async (ex: Exchange): Promise<void> => {
    const store = ex.params.store!;
    state.check(store);
    const body = await ex.json();
    if (!isObject(body)) throw malformed('json: cannot unmarshal the body into a bulk get request');
    const keys = body.keys ?? [];
    if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string')) throw malformed('json: "keys" must be a list of strings');
    const parallelism = body.parallelism ?? 0;
    if (typeof parallelism !== 'number' || !Number.isInteger(parallelism)) throw malformed('json: "parallelism" must be an integer');
    const md = stringMap(body, 'metadata', -1);
    const query = ex.queryMetadata();
    for (const k in query) md[k] = query[k]!;
    const items = await state.bulkGet(store, keys as string[], md, parallelism);
    ex.sendRaw(200, bulkJson(items), 'application/json');
  };

  const transaction = async (ex: Exchange): Promise<void> => {
    const store = ex.params.store!;
    state.checkTransactional(store);
    const body = await ex.json();
    if (!isObject(body)) throw malformed('json: cannot unmarshal the body into a transaction request');
    const rawOps = body.operations ?? [];
    if (!Array.isArray(rawOps)) throw malformed('json: "operations" must be a list');
    if (rawOps.length === 0) return ex.sendEmpty(204);
    const md = stringMap(body, 'metadata', -1);
    const query = ex.queryMetadata();
    for (const k in query) md[k] = query[k]!;
    const ops: TransactionOperation[] = [];
    for (let i = 0; i < rawOps.length; i++) {
      const o = rawOps[i] as unknown;
      if (!isObject(o)) throw malformed(`operation ${i} must be an object`);
      const kind = o.operation;
      if (kind !== 'upsert' && kind !== 'delete') {
        throw new DaprError('stateOperationNotSupported', `operation type ${String(kind)} not supported`);
      }
      const r = o.request ?? {};
      if (!isObject(r)) throw malformed(`operation ${i}: "request" must be an object`);
      const key = optString(r, 'key', i);
      if (!key) throw malformed(`operation ${i}: "key" is a required field`);
      // Query-string metadata goes into every operation as well as the transaction, as in Dapr.
      const opMd = stringMap(r, 'metadata', i);
      for (const k in query) opMd[k] = query[k]!;
      const etag = optString(r, 'etag', i);
      if (kind === 'upsert') {
        ops.push({ operation: 'upsert', request: { key, value: r.value === undefined ? 'null' : JSON.stringify(r.value), etag, metadata: opMd, options: options(r, i) } });
      } else {
        ops.push({ operation: 'delete', request: { key, etag, metadata: opMd, options: options(r, i) } });
      }
    }
    await state.transaction(store, ops, md, { traceparent: ex.header('traceparent') ?? '', tracestate: ex.header('tracestate') ?? '' });
    ex.sendEmpty(204);
  };

  const query = async (ex: Exchange): Promise<void> => {
    const store = ex.params.store!;
    state.checkQueryable(store);
    const text = (await ex.body()).toString('utf8');
    const res = await state.query(store, text, ex.queryMetadata());
    if (res.results.length === 0) return ex.sendEmpty(204);
    let out = '{"results":[';
    for (let i = 0; i < res.results.length; i++) {
      const r = res.results[i]!;
      if (i > 0) out += ',';
      out += `{"key":${JSON.stringify(r.key)},"data":${jsonData(r.data)}`;
      if (r.etag) out += `,"etag":${JSON.stringify(r.etag)}`;
      if (r.error) out += `,"error":${JSON.stringify(r.error)}`;
      out += '}';
    }
    out += ']';
    if (res.token) out += `,"token":${JSON.stringify(res.token)}`;
    if (res.metadata && Object.keys(res.metadata).length > 0) out += `,"metadata":${JSON.stringify(res.metadata)}`;
    ex.sendRaw(200, out + '}', 'application/json');
  };

  return [
    { method: 'POST', path: '/v1.0/state/{store}', group: 'state', handler: save },
    { method: 'PUT', path: '/v1.0/state/{store}', group: 'state', handler: save },
    { method: 'POST', path: '/v1.0/state/{store}/bulk', group: 'state', handler: bulk },
    { method: 'PUT', path: '/v1.0/state/{store}/bulk', group: 'state', handler: bulk },
    { method: 'POST', path: '/v1.0/state/{store}/transaction', group: 'state', handler: transaction },
    { method: 'PUT', path: '/v1.0/state/{store}/transaction', group: 'state', handler: transaction },
    { method: 'POST', path: '/v1.0-alpha1/state/{store}/query', group: 'state', handler: query },
    { method: 'PUT', path: '/v1.0-alpha1/state/{store}/query', group: 'state', handler: query },
    {
      // Keys may contain '/': the official SDKs send them unencoded.
      method: 'GET',
      path: '/v1.0/state/{store}/{key*}',
      group: 'state',
      handler: async (ex) => {
        const hasQuery = ex.rawQuery !== '';
        const r = await state.get(ex.params.store!, ex.params.key!, hasQuery ? ex.queryMetadata() : {}, hasQuery ? ex.query.get('consistency') : null);
        if (!r) return ex.sendEmpty(204);
        let headers: Record<string, string> | undefined;
        if (r.etag !== undefined || r.metadata) {
          headers = {};
          if (r.etag !== undefined) headers.etag = r.etag;
          if (r.metadata) for (const k in r.metadata) headers[`metadata.${k}`] = r.metadata[k]!;
        }
        ex.sendRaw(200, typeof r.data === 'string' ? r.data : Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength), 'application/json', headers);
      },
    },
    {
      method: 'DELETE',
      path: '/v1.0/state/{store}/{key*}',
      group: 'state',
      handler: async (ex) => {
        // The presence of If-Match counts, even when empty.
        const etag = ex.req.headers['if-match'];
        const opts: StateOptions = {
          concurrency: (ex.query.get('concurrency') ?? undefined) as Concurrency | undefined,
          consistency: (ex.query.get('consistency') ?? undefined) as Consistency | undefined,
        };
        await state.delete(ex.params.store!, ex.params.key!, Array.isArray(etag) ? etag[0] : etag, opts, ex.queryMetadata());
        ex.sendEmpty(204);
      },
    },
  ];
}

function bulkJson(items: readonly BulkGetItem[]): string {
  let out = '[';
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    if (i > 0) out += ',';
    out += `{"key":${JSON.stringify(it.key)}`;
    if (it.error) {
      out += `,"error":${JSON.stringify(it.error)}`;
    } else if (it.data !== undefined) {
      out += `,"data":${jsonData(it.data)}`;
      if (it.etag !== undefined) out += `,"etag":${JSON.stringify(it.etag)}`;
      if (it.metadata && Object.keys(it.metadata).length > 0) out += `,"metadata":${JSON.stringify(it.metadata)}`;
    }
    out += '}';
  }
  return out + ']';
}

/** Stored JSON goes out as-is; bytes that are not JSON text go out as a base64 string. */
function jsonData(data: StateValue): string {
  if (typeof data === 'string') return data;
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  try {
    JSON.parse(text);
    return text;
  } catch {
    return JSON.stringify(Buffer.from(data).toString('base64'));
  }
}

function malformed(msg: string): DaprError {
  return new DaprError('malformedRequest', msg);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(o: Record<string, unknown>, name: string, i: number): string | undefined {
  const v = o[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw malformed(`json: cannot unmarshal ${typeof v} into field "${name}"${i >= 0 ? ` of item ${i}` : ''} of type string`);
  return v;
}

function stringMap(o: Record<string, unknown>, name: string, i: number): Record<string, string> {
  const v = o[name];
  const out: Record<string, string> = {};
  if (v === undefined || v === null) return out;
  if (!isObject(v)) throw malformed(`json: "${name}"${i >= 0 ? ` of item ${i}` : ''} must be an object of strings`);
  for (const k in v) {
    const s = v[k];
    if (typeof s !== 'string') throw malformed(`json: cannot unmarshal ${typeof s} into "${name}.${k}" of type string`);
    out[k] = s;
  }
  return out;
}

function options(o: Record<string, unknown>, i: number): StateOptions {
  const v = o.options;
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw malformed(`json: "options"${i >= 0 ? ` of item ${i}` : ''} must be an object`);
  return {
    concurrency: optString(v, 'concurrency', i) as Concurrency | undefined,
    consistency: optString(v, 'consistency', i) as Consistency | undefined,
  };
}
