// The HTTP vocabulary shared by the listeners (proxy/) and the building blocks' handlers
// (core/<block>/routes.ts): one exchange per request, handlers and layers over it, routes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DaprError } from './errors.js';

export class Exchange {
  /** Path parameters of the matched route, unescaped. */
  params: Record<string, string>;
  /** The matched route template (for metrics and logs), or '' before routing. */
  route: string;
  /** The path without the query string, as received. */
  readonly path: string;
  /** The raw query string without '?', possibly ''. */
  readonly rawQuery: string;
  private parsedQuery: URLSearchParams | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly maxBodyBytes: number,
  ) {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    this.path = q < 0 ? url : url.slice(0, q);
    this.rawQuery = q < 0 ? '' : url.slice(q + 1);
    this.params = {};
    this.route = '';
    this.parsedQuery = undefined;
  }

  get query(): URLSearchParams {
    this.parsedQuery ??= new URLSearchParams(this.rawQuery);
    return this.parsedQuery;
  }

  header(name: string): string | undefined {
    const v = this.req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  }

  /** `metadata.<k>` query parameters with the prefix removed (first value wins). */
  queryMetadata(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of this.query) {
      if (k.startsWith('metadata.') && !(k.slice(9) in out)) out[k.slice(9)] = v;
    }
    return out;
  }

  /** Reads the whole body, refusing more than the sidecar's request size limit with 413. */
  async body(): Promise<Buffer> {
    const declared = Number(this.req.headers['content-length'] ?? -1);
    if (declared > this.maxBodyBytes) throw tooLarge(this.maxBodyBytes);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > this.maxBodyBytes) throw tooLarge(this.maxBodyBytes);
      chunks.push(chunk);
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
  }

  /** Parses the body as JSON; an invalid body is Dapr's ERR_MALFORMED_REQUEST. */
  async json<T = unknown>(): Promise<T> {
    const buf = await this.body();
    try {
      return JSON.parse(buf.toString('utf8')) as T;
    } catch (err) {
      throw new DaprError('malformedRequest', `failed deserializing HTTP body: ${(err as Error).message}`, { cause: err });
    }
  }

  sendJson(status: number, value: unknown, headers?: Record<string, string>): void {
    const text = JSON.stringify(value);
    const res = this.res;
    res.statusCode = status;
    if (headers) for (const k in headers) res.setHeader(k, headers[k]!);
    res.setHeader('content-type', 'application/json');
    res.setHeader('content-length', Buffer.byteLength(text));
    res.end(text);
  }

  sendRaw(status: number, body: Buffer | string, contentType: string, headers?: Record<string, string>): void {
    const res = this.res;
    res.statusCode = status;
    if (headers) for (const k in headers) res.setHeader(k, headers[k]!);
    res.setHeader('content-type', contentType);
    res.setHeader('content-length', typeof body === 'string' ? Buffer.byteLength(body) : body.length);
    res.end(body);
  }

  sendEmpty(status = 204): void {
    this.res.statusCode = status;
    this.res.end();
  }

  sendError(err: DaprError): void {
    this.sendJson(err.status, err.toBody());
  }
}

function tooLarge(limit: number): DaprError {
  return new DaprError('bodyTooLarge', `request body exceeds the limit of ${limit} bytes`);
}

export type Handler = (ex: Exchange) => Promise<void>;
export type Layer = (next: Handler) => Handler;

/** Composes layers around an end handler, outermost first; a null layer is absent. */
export function stack(end: Handler, layers: ReadonlyArray<Layer | null>): Handler {
  let h = end;
  for (let i = layers.length - 1; i >= 0; i--) h = layers[i]?.(h) ?? h;
  return h;
}

/** The API groups of Configuration `spec.api` (the first path segment after the version). */
export type ApiGroup =
  | 'invoke' | 'state' | 'publish' | 'bindings' | 'secrets' | 'actors' | 'metadata'
  | 'configuration' | 'lock' | 'unlock' | 'crypto' | 'subtlecrypto' | 'workflows'
  | 'healthz' | 'jobs' | 'shutdown' | 'conversation';

export interface Route {
  method: string;
  /** Template such as `/v1.0/secrets/{store}/{key}`; a final `{name*}` takes the rest of the path. */
  path: string;
  group: ApiGroup;
  handler: Handler;
}
