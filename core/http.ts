// The HTTP vocabulary shared by the listeners (proxy/) and the building blocks' handlers
// (core/<block>/routes.ts): one exchange per request, handlers and layers over it, routes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DaprError } from './errors.js';
import type { Span } from './telemetry.js';

export class Exchange {
  /** Path parameters of the matched route, unescaped. */
  params: Record<string, string>;
  /** The matched route template (for metrics and logs), or '' before routing. */
  route: string;
  /** The path without the query string, as received. */
  readonly path: string;
  /** The raw query string without '?', possibly ''. */
  readonly rawQuery: string;
  /** The request's API span, set by the trace layer when tracing is on. */
  span: Span | undefined;
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
    this.span = undefined;
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
    if (this.rawQuery === '') return out;
    for (const [k, v] of this.query) {
      if (k.startsWith('metadata.') && !(k.slice(9) in out)) out[k.slice(9)] = v;
    }
    return out;
  }

  /** Reads the whole body, refusing more than the sidecar's request size limit with 413. */
  body(): Promise<Buffer> {
    const declared = Number(this.req.headers['content-length'] ?? -1);
    if (declared > this.maxBodyBytes) return Promise.reject(tooLarge(this.maxBodyBytes));
    return new Promise((resolve, reject) => new BodyReader(this.req, this.maxBodyBytes, resolve, reject));
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

/**
 * Collects a request body from 'data'/'end' events: an async iterator over the request costs
 * several promises and an end-of-stream watcher per request (~5 % of a publish's CPU). Like the
 * iterator it replaces, going over the limit or a connection lost mid-body destroys the request.
 */
class BodyReader {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private settled = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly limit: number,
    private readonly resolve: (body: Buffer) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    if (req.readableEnded) {
      this.onEnd();
      return;
    }
    if (req.destroyed) {
      this.onClose();
      return;
    }
    req.on('data', this.onData);
    req.on('end', this.onEnd);
    req.on('error', this.onError);
    req.on('close', this.onClose);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.settled) return;
    this.size += chunk.length;
    if (this.size > this.limit) {
      this.fail(tooLarge(this.limit));
      this.req.destroy();
      return;
    }
    this.chunks.push(chunk);
  };

  private readonly onEnd = (): void => {
    if (this.settled) return;
    this.settled = true;
    this.detach();
    const c = this.chunks;
    this.resolve(c.length === 1 ? c[0]! : Buffer.concat(c, this.size));
  };

  private readonly onError = (err: Error): void => this.fail(err);

  private readonly onClose = (): void => {
    const err = new Error('the request was closed before its body ended') as NodeJS.ErrnoException;
    err.code = 'ERR_STREAM_PREMATURE_CLOSE';
    this.fail(err);
  };

  private fail(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.detach();
    this.reject(err);
  }

  private detach(): void {
    const req = this.req;
    req.off('data', this.onData);
    req.off('end', this.onEnd);
    req.off('close', this.onClose);
    // 'error' stays handled: a late error on a finished request must not crash the process.
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
