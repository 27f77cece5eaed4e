// The one place invocation talks to undici: keep-alive pools per upstream origin. Plain
// origins (peer sidecars without mTLS, URL targets, forward-proxy pass-through) share one
// Agent, which drops an origin's pool once its connections are gone, so hosts met once do not
// pile up; origins with their own TLS settings (HTTPEndpoint clientTLS, peers under mTLS) get
// a pool each, built on first use and kept until close. Bodies are streams both ways: the
// request body is the caller's IncomingMessage, the answer is copied into our ServerResponse
// as it arrives (forwarded.ts), so back-pressure holds end to end.
import type { Readable } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { newAgent, newPool, type Agent, type Dispatcher, type Pool, type PoolOptions } from '../undici.js';
import { Forwarded } from './forwarded.js';

export interface UpstreamRequest {
  method: string;
  /** Path with query, starting with '/'. */
  path: string;
  headers: Record<string, string | string[]>;
  body: Readable | Buffer | null;
  signal?: AbortSignal | undefined;
}

export interface UpstreamResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable & { dump(): Promise<void> };
}

export interface PoolSettings {
  /** Connections per origin. */
  connections: number;
  /** Client TLS for https origins (HTTPEndpoint clientTLS; later the sidecars' mTLS). */
  tls?: ConnectionOptions;
  /** Who owns these settings (an HTTPEndpoint name): its pool is never shared with other callers of the same origin. */
  owner?: string;
  /** A connector that builds each connection itself (the sidecars' mTLS: credentials rotate). */
  connect?: PoolOptions['connect'];
}

export class Upstreams {
  private readonly pools = new Map<string, Pool>();
  /** Built on the first call to a plain origin (undici loads then). */
  private plain: Agent | undefined;

  constructor(private readonly defaults: PoolSettings) {}

  private get agent(): Agent {
    // Streams may be long (SSE, large uploads): no idle timeouts on bodies or headers.
    return (this.plain ??= newAgent({ connections: this.defaults.connections, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 }));
  }

  private pool(origin: string, settings: PoolSettings): Pool {
    const key = settings.owner ? `${origin}#${settings.owner}` : origin;
    let pool = this.pools.get(key);
    if (!pool) {
      const s = settings;
      pool = newPool(origin, {
        connections: s.connections,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        // Streams may be long (SSE, large uploads): no idle timeouts on bodies or headers.
        headersTimeout: 0,
        bodyTimeout: 0,
        ...(s.connect ? { connect: s.connect } : s.tls ? { connect: s.tls } : {}),
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  async request(origin: string, req: UpstreamRequest, settings?: PoolSettings): Promise<UpstreamResponse> {
    const opts: Dispatcher.RequestOptions = {
      origin,
      method: req.method as Dispatcher.HttpMethod,
      path: req.path,
      headers: req.headers,
      body: req.body,
    };
    if (req.signal) opts.signal = req.signal;
    const dispatcher = settings ? this.pool(origin, settings) : this.agent;
    return (await dispatcher.request(opts)) as unknown as UpstreamResponse;
  }

  /** The proxy paths' way out: the answer's head, its body relayed or dropped by the caller. */
  forward(origin: string, req: UpstreamRequest, settings?: PoolSettings): Promise<Forwarded> {
    const answer = new Forwarded(req.signal);
    const dispatcher = settings ? this.pool(origin, settings) : this.agent;
    dispatcher.dispatch({ origin, method: req.method as Dispatcher.HttpMethod, path: req.path, headers: req.headers, body: req.body }, answer);
    return answer.head;
  }

  /** Drops a pool whose peer went away, so a later instance on the same port starts fresh (the Agent does this by itself). */
  forget(origin: string): void {
    const pool = this.pools.get(origin);
    if (!pool) return;
    this.pools.delete(origin);
    void pool.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all([...all.map((p) => p.destroy().catch(() => undefined)), this.plain?.destroy().catch(() => undefined)]);
  }
}
