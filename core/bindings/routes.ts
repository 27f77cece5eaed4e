// POST|PUT /v1.0/bindings/{name}: `data` re-serialized as Go's JSON, trace context and baggage
// added to the metadata, `metadata.<k>` response headers (also on failure), 204 when the binding
// returned nothing.
import { DaprError } from '../errors.js';
import type { Exchange, Route } from '../http.js';
import { goJsonMarshal } from './go-json.js';
import type { BindingsService } from './service.js';

interface OutputBindingRequest {
  data: Buffer;
  operation: string;
  metadata: Record<string, string>;
}

export function bindingsRoutes(service: BindingsService): Route[] {
  const handler = async (ex: Exchange): Promise<void> => {
    const name = ex.params.name!;
    const req = await parseRequest(ex);
    const span = ex.span;
    const baggage = ex.req.headers.baggage;
    addCallContext(req.metadata, span?.traceparent ?? ex.header('traceparent'), span?.tracestate ?? ex.header('tracestate'), Array.isArray(baggage) ? baggage.join(',') : baggage);
    const failedMetadata: Record<string, string> = {};
    let resp;
    try {
      resp = await service.invoke(name, req.operation, req.data, req.metadata, failedMetadata);
    } catch (err) {
      setMetadataHeaders(ex, failedMetadata);
      throw err;
    }
    if (!resp) return ex.sendEmpty(204);
    setMetadataHeaders(ex, resp.metadata ?? {});
    ex.sendRaw(200, resp.data ?? Buffer.alloc(0), resp.contentType ?? 'application/json');
  };
  return [
    { method: 'POST', path: '/v1.0/bindings/{name}', group: 'bindings', handler },
    { method: 'PUT', path: '/v1.0/bindings/{name}', group: 'bindings', handler },
  ];
}

async function parseRequest(ex: Exchange): Promise<OutputBindingRequest> {
  const body = await ex.json<unknown>();
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new DaprError('malformedRequest', 'failed deserializing HTTP body: the body must be a JSON object');
  }
  const b = body as Record<string, unknown>;
  const operation = fieldOf(b, 'operation');
  if (operation !== undefined && operation !== null && typeof operation !== 'string') {
    throw new DaprError('malformedRequest', 'failed deserializing HTTP body: operation must be a string');
  }
  const rawMeta = fieldOf(b, 'metadata');
  const metadata: Record<string, string> = {};
  if (rawMeta !== undefined && rawMeta !== null) {
    if (typeof rawMeta !== 'object' || Array.isArray(rawMeta)) {
      throw new DaprError('malformedRequest', 'failed deserializing HTTP body: metadata must be an object of strings');
    }
    for (const [k, v] of Object.entries(rawMeta)) {
      if (typeof v !== 'string') throw new DaprError('malformedRequest', `failed deserializing HTTP body: metadata value of "${k}" must be a string`);
      metadata[k] = v;
    }
  }
  return { data: Buffer.from(goJsonMarshal(fieldOf(b, 'data'))), operation: (operation as string | null) ?? '', metadata };
}

/** Go's decoder matches struct fields case-insensitively; an exact match wins. */
function fieldOf(obj: Record<string, unknown>, name: string): unknown {
  if (name in obj) return obj[name];
  for (const k in obj) if (k.toLowerCase() === name) return obj[k];
  return undefined;
}

function setMetadataHeaders(ex: Exchange, md: Record<string, string>): void {
  for (const [k, v] of Object.entries(md)) {
    if (/[\r\n\0]/.test(v) || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) continue;
    ex.res.appendHeader(`metadata.${k}`, v);
  }
}

/** The caller's trace context and baggage go to the binding in its metadata, as Dapr sends them. */
export function addCallContext(metadata: Record<string, string>, traceparent: string | undefined, tracestate: string | undefined, baggage: string | undefined): void {
  if (traceparent) metadata.traceparent = traceparent;
  if (tracestate) metadata.tracestate = tracestate;
  if (baggage !== undefined) {
    if (!isValidBaggage(baggage)) throw new DaprError('malformedRequest', `invalid baggage header: ${baggage}`);
    metadata.baggage = baggage;
  }
}

/** W3C baggage: comma-separated `key=value[;props]` members with token keys. */
function isValidBaggage(text: string): boolean {
  for (const member of text.split(',')) {
    const m = member.trim();
    if (m === '') return false;
    const eq = m.indexOf('=');
    if (eq <= 0) return false;
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(m.slice(0, eq).trim())) return false;
  }
  return true;
}
