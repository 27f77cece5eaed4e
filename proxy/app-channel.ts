// The sidecar's channel to its own app: pooled keep-alive connections (undici), the app's
// readiness (its port accepts connections), optional health probing, max concurrency and
// APP_API_TOKEN on every call.
import { connect } from 'node:net';
import { newPool, type Dispatcher, type Pool } from './undici.js';
import type { AppCaller, AppCallRequest, AppCallResponse, AppTextResponse } from '../core/app.js';
import type { Logger } from '../core/component.js';
import { Forwarded } from './invoke/forwarded.js';
import type { AppHealthOptions } from './options.js';

export interface AppChannelOptions {
  address: string;
  port: number;
  health: AppHealthOptions;
  maxConcurrency: number;
  appApiToken?: string;
  logger: Logger;
  /** dapr_http_client_* (absent when metrics are off). */
  metrics?: HttpClientMetrics;
}

export interface HttpClientMetrics {
  recordHttpClient(method: string | undefined, path: string, status: number, elapsedMs: number, sentBytes: number, receivedBytes: number): void;
  recordHealthProbe(status: number, elapsedMs: number): void;
}

export type AppRequest = Omit<Dispatcher.RequestOptions, 'origin'>;

export class AppChannel implements AppCaller {
  readonly origin: string;
  /** Built on the first request to the app (undici loads then). */
  private appPool: Pool | undefined;
  private ready = false;
  private healthy = true;
  private failures = 0;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private probeTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly readyListeners: Array<() => void> = [];

  constructor(private readonly opts: AppChannelOptions) {
    const host = opts.address.includes(':') ? `[${opts.address}]` : opts.address;
    this.origin = `http://${host}:${opts.port}`;
  }

  private get pool(): Pool {
    return (this.appPool ??= newPool(this.origin, { keepAliveTimeout: 30_000, connections: 128, pipelining: 1 }));
  }

  get isReady(): boolean {
    return this.ready;
  }

  get isHealthy(): boolean {
    return this.ready && this.healthy;
  }

  onReady(fn: () => void): void {
    if (this.ready) fn();
    else this.readyListeners.push(fn);
  }

  /** Polls the app port until it accepts a TCP connection, then starts health probes. */
  start(): void {
    // The app is starting too: build the pool (undici loads, ~25 ms) while its port is not up yet.
    setImmediate(() => {
      if (!this.closed) void this.pool;
    });
    const attempt = (): void => {
      if (this.closed) return;
      const sock = connect({ host: this.opts.address, port: this.opts.port });
      sock.once('connect', () => {
        sock.destroy();
        this.ready = true;
        this.opts.logger.info(`application discovered on port ${this.opts.port}`);
        for (const fn of this.readyListeners.splice(0)) fn();
        if (this.opts.health.enabled) this.scheduleProbe();
      });
      sock.once('error', () => {
        sock.destroy();
        setTimeout(attempt, 50).unref();
      });
    };
    attempt();
  }

  private scheduleProbe(): void {
    this.probeTimer = setTimeout(() => void this.probe(), this.opts.health.intervalMs);
    this.probeTimer.unref();
  }

  private async probe(): Promise<void> {
    if (this.closed) return;
    let ok = false;
    let status = 500;
    const started = performance.now();
    try {
      const res = await this.pool.request({
        method: 'GET',
        path: this.opts.health.path,
        headers: this.tokenHeaders(),
        headersTimeout: this.opts.health.timeoutMs,
        bodyTimeout: this.opts.health.timeoutMs,
      });
      await res.body.dump();
      status = res.statusCode;
      ok = res.statusCode >= 200 && res.statusCode < 300;
    } catch {
      ok = false;
    }
    this.opts.metrics?.recordHealthProbe(status, performance.now() - started);
    if (ok) {
      this.failures = 0;
      if (!this.healthy) this.opts.logger.info('app is healthy again');
      this.healthy = true;
    } else if (++this.failures >= this.opts.health.threshold && this.healthy) {
      this.healthy = false;
      this.opts.logger.warn(`app is unhealthy after ${this.failures} failed health checks`);
    }
    this.scheduleProbe();
  }

  private tokenHeaders(): Record<string, string> {
    return this.opts.appApiToken ? { 'dapr-api-token': this.opts.appApiToken } : {};
  }

  /** Waits for a slot under --app-max-concurrency; call release() when the call is over. */
  async acquire(): Promise<void> {
    if (this.opts.maxConcurrency <= 0) return;
    if (this.inFlight < this.opts.maxConcurrency) {
      this.inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    if (this.opts.maxConcurrency <= 0) return;
    const next = this.waiting.shift();
    if (next) next();
    else this.inFlight--;
  }

  /** A request to the app; the body of the response is streamed to the caller. */
  async request(req: AppRequest): Promise<Dispatcher.ResponseData> {
    // No limit (the default): no slot to wait for or give back, and no per-request listener.
    const limited = this.opts.maxConcurrency > 0;
    if (limited) await this.acquire();
    try {
      const headers = req.headers as Record<string, string | string[]> | undefined;
      const res = await this.measured(req, () => this.pool.request(this.opts.appApiToken ? { ...req, headers: { ...(headers ?? {}), 'dapr-api-token': this.opts.appApiToken } } : req));
      if (limited) res.body.once('close', () => this.release());
      return res;
    } catch (err) {
      if (limited) this.release();
      throw err;
    }
  }

  /**
   * The proxy's way in (invocation, fronting): the answer's head; the caller relays or drops
   * its body. Same token, limits and metrics as `request`.
   */
  forward(req: AppRequest): Promise<Forwarded> {
    // Without a concurrency limit (the default) nothing is awaited before the dispatch.
    return this.opts.maxConcurrency > 0 ? this.forwardLimited(req) : this.dispatchForward(req, false);
  }

  private async forwardLimited(req: AppRequest): Promise<Forwarded> {
    await this.acquire();
    return this.dispatchForward(req, true);
  }

  private dispatchForward(req: AppRequest, limited: boolean): Promise<Forwarded> {
    const headers = req.headers as Record<string, string | string[]>;
    if (this.opts.appApiToken) headers['dapr-api-token'] = this.opts.appApiToken;
    const answer = new Forwarded(req.signal as AbortSignal | undefined);
    if (limited) answer.onSettled = () => this.release();
    const metrics = this.opts.metrics;
    if (metrics) answer.measure(metrics, req.method, pathOf(req.path), sentBytes(headers));
    this.pool.dispatch({ origin: this.origin, method: req.method, path: req.path, headers, body: req.body ?? null }, answer);
    return answer.head;
  }

  /** Runs `send` under dapr_http_client_* (absent when metrics are off); forward() records through its Forwarded. */
  private async measured<T extends { statusCode: number; headers: Record<string, unknown> }>(req: AppRequest, send: () => Promise<T>): Promise<T> {
    const metrics = this.opts.metrics;
    if (!metrics) return send();
    const path = pathOf(req.path);
    const sent = sentBytes(req.headers as Record<string, string | string[]> | undefined);
    const started = performance.now();
    let res: T;
    try {
      res = await send();
    } catch (err) {
      // A transport failure is recorded as 500, as Dapr does.
      metrics.recordHttpClient(req.method, path, 500, performance.now() - started, sent, 0);
      throw err;
    }
    const received = Number(res.headers['content-length'] ?? 0) || 0;
    metrics.recordHttpClient(req.method, path, res.statusCode, performance.now() - started, sent, received);
    return res;
  }

  /** The building blocks' way in (pub/sub delivery, bindings, actors). */
  async call(req: AppCallRequest): Promise<AppCallResponse> {
    const res = await this.request({
      method: req.method as Dispatcher.HttpMethod,
      path: req.path,
      headers: req.headers ?? {},
      body: req.body ?? null,
      headersTimeout: req.headersTimeout,
      signal: req.signal,
    });
    return res as unknown as AppCallResponse;
  }

  /**
   * The pub/sub delivery's way in: the answer is read whole on undici's dispatch interface
   * (`forward`), without the Readable body, promise per stage and abort plumbing of `request()`
   * (about a tenth of a subscriber's CPU per message). Same token, limits and metrics.
   */
  async callText(req: AppCallRequest): Promise<AppTextResponse> {
    const answer = await this.forward({
      method: req.method as Dispatcher.HttpMethod,
      path: req.path,
      // forward() adds the app token to the headers it is given: a copy then, not the caller's.
      headers: this.opts.appApiToken ? { ...(req.headers ?? {}) } : (req.headers ?? {}),
      body: (req.body ?? null) as AppRequest['body'],
      ...(req.signal ? { signal: req.signal } : {}),
    });
    const body = await answer.collect();
    return { statusCode: answer.statusCode, text: body.toString('utf8') };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    await this.appPool?.close().catch(() => undefined);
  }
}

function pathOf(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

function sentBytes(headers: Record<string, string | string[]> | undefined): number {
  const v = headers?.['content-length'];
  return Number(Array.isArray(v) ? v[0] : v ?? 0) || 0;
}
