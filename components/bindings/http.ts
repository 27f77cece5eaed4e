// bindings.http (output): one request per invoke to `url` (+ request metadata `path`), the
// operation naming the method (`create` is POST). Request metadata keys starting with an ASCII
// capital letter become headers; trace context and baggage are forwarded; `securityToken` goes
// into `securityTokenHeader`; optional mTLS. The response carries metadata statusCode, status
// and every response header; a non-2xx answer fails the call unless errorIfNot2XX is false
// (component or request metadata), and keeps its metadata either way.
import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { Agent, request, type Dispatcher } from 'undici';
import { meta, type ComponentContext } from '../../core/component.js';
import { BindingError, bindingFeatures, type Binding, type BindingInvokeRequest } from '../../core/bindings/component.js';
import { isTruthy } from '../../resources/decode.js';
import { parseGoDuration } from '../../resources/duration.js';

const NAME = 'bindings.http';
const OPERATIONS = ['create', 'get', 'head', 'post', 'put', 'patch', 'delete', 'options', 'trace'];
const WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);
const FORWARDED = ['traceparent', 'tracestate', 'baggage'];

export async function createHttpBinding(ctx: ComponentContext): Promise<Binding> {
  const md = ctx.metadata;
  const base = meta(md, 'url')?.trim();
  if (!base) throw new Error(`${NAME}: metadata "url" is required`);
  try {
    new URL(base);
  } catch {
    throw new Error(`${NAME}: metadata "url" is not a URL: ${base}`);
  }
  const timeoutRaw = meta(md, 'responseTimeout')?.trim();
  const timeout = timeoutRaw ? parseGoDuration(timeoutRaw) : undefined;
  if (timeoutRaw && timeout === undefined) throw new Error(`${NAME}: metadata "responseTimeout" is not a duration: ${timeoutRaw}`);
  const maxBody = byteQuantity(meta(md, 'maxResponseBodySize')?.trim() || '100Mi');
  const errorIfNot2XX = meta(md, 'errorIfNot2XX') === undefined ? true : isTruthy(meta(md, 'errorIfNot2XX'));
  const tokenHeader = meta(md, 'securityTokenHeader')?.trim();
  const token = meta(md, 'securityToken');
  if (token && !tokenHeader) throw new Error(`${NAME}: metadata "securityToken" needs "securityTokenHeader"`);
  const dispatcher = tlsAgent(ctx);

  async function invoke(req: BindingInvokeRequest, signal?: AbortSignal) {
    const method = req.operation === 'create' ? 'POST' : req.operation.toUpperCase();
    let url = base!.replace(/\/+$/, '');
    const path = req.metadata.path;
    if (path) url = `${url}/${path.replace(/^\/+/, '')}`;
    const headers: Record<string, string> = {};
    // Dapr's order: defaults, then the security token, then capitalised metadata keys (which
    // may override both), then the trace context.
    if (WITH_BODY.has(method)) headers['content-type'] = 'application/json; charset=utf-8';
    headers.accept = 'application/json; charset=utf-8';
    if (token && tokenHeader) headers[tokenHeader.toLowerCase()] = token;
    for (const [k, v] of Object.entries(req.metadata)) {
      const c = k.charCodeAt(0);
      if (c >= 65 && c <= 90) headers[k.toLowerCase()] = v;
    }
    for (const k of FORWARDED) if (req.metadata[k]) headers[k] = req.metadata[k]!;
    const signals = [signal, timeout ? AbortSignal.timeout(timeout) : undefined].filter((s): s is AbortSignal => !!s);
    const res = await request(url, {
      method: method as Dispatcher.HttpMethod,
      headers,
      body: WITH_BODY.has(method) ? req.data : null,
      ...(signals.length ? { signal: signals.length === 1 ? signals[0] : AbortSignal.any(signals) } : {}),
      ...(dispatcher ? { dispatcher } : {}),
    });
    const data = await readLimited(res.body, maxBody);
    const metadata: Record<string, string> = { statusCode: String(res.statusCode), status: `${res.statusCode} ${STATUS_CODES[res.statusCode] ?? ''}`.trim() };
    for (const [k, v] of Object.entries(res.headers)) {
      if (v === undefined) continue;
      metadata[canonicalHeader(k)] = Array.isArray(v) ? v.join(', ') : v;
    }
    const reqFlag = req.metadata.errorIfNot2XX;
    const failNon2xx = reqFlag ? isTruthy(reqFlag) : errorIfNot2XX;
    if (failNon2xx && (res.statusCode < 200 || res.statusCode > 299)) throw new BindingError(`received status code ${res.statusCode}`, metadata);
    // Like Dapr, no content type of its own: the API answers application/json, and the server's
    // Content-Type travels as metadata.
    return { data, metadata };
  }

  return {
    features: bindingFeatures(meta(md, 'direction'), { input: false, output: true }),
    operations: () => OPERATIONS,
    invoke,
    async close() {
      await dispatcher?.close();
    },
  };
}

/** Go's canonical MIME header key: "content-type" -> "Content-Type". */
function canonicalHeader(k: string): string {
  return k.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase());
}

/** Reads at most `max` bytes (<= 0: all) and drops the rest, as Dapr's LimitReader does. */
async function readLimited(body: Dispatcher.ResponseData['body'], max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (max > 0 && size + chunk.length >= max) {
      chunks.push(chunk.subarray(0, max - size));
      size = max;
      body.destroy();
      break;
    }
    size += chunk.length;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** Kubernetes-style quantities as Dapr reads maxResponseBodySize: 100Mi, 1G, 512. */
export function byteQuantity(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|k|K|M|G|T)?$/.exec(text);
  if (!m) throw new Error(`${NAME}: metadata "maxResponseBodySize" is not a size: ${text}`);
  const units: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Math.floor(Number(m[1]) * (m[2] ? units[m[2]]! : 1));
}

/** PEM text, or a path to a PEM file, as Dapr accepts for the MTLS* keys. */
function pemOf(ctx: ComponentContext, key: string): string | undefined {
  const v = meta(ctx.metadata, key)?.trim();
  if (!v) return undefined;
  if (v.startsWith('-----BEGIN')) return v;
  try {
    return readFileSync(v, 'utf8');
  } catch (err) {
    throw new Error(`${NAME}: metadata "${key}" is neither PEM text nor a readable file: ${(err as Error).message}`);
  }
}

function tlsAgent(ctx: ComponentContext): Agent | undefined {
  const ca = pemOf(ctx, 'MTLSRootCA');
  const cert = pemOf(ctx, 'MTLSClientCert');
  const key = pemOf(ctx, 'MTLSClientKey');
  if (!ca && !cert && !key) return undefined;
  if (!!cert !== !!key) throw new Error(`${NAME}: MTLSClientCert and MTLSClientKey go together`);
  return new Agent({ connect: { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } });
}
