// The calling side of service invocation: `/v1.0/invoke/{target}/method/{method*}`, any
// unmatched path carrying `dapr-app-id` (or Basic auth `dapr-app-id:<id>`), and the forward
// proxy (absolute-form targets, CONNECT). A target is this app (straight to the app channel),
// another app (its sidecar's internal port, found by name resolution, balanced round-robin),
// an HTTPEndpoint or a URL (straight out, with the endpoint's headers and client TLS).
import type { Readable } from 'node:stream';
import type { Logger } from '../../core/component.js';
import { DaprError } from '../../core/errors.js';
import { Exchange, type Handler, type Route } from '../../core/http.js';
import type { PolicyProvider } from '../../core/policy.js';
import type { MtlsContext } from '../../security/tls.js';
import type { AppChannel } from '../app-channel.js';
import { isUpgrade, takeOverSocket, type UpgradeTracker } from '../listeners/upgrade.js';
import type { NameResolver, PeerAddress } from '../naming/resolver.js';
import { endpointFromUrl, type Endpoint } from './endpoints.js';
import { ForwardProxyRules } from './forward-proxy.js';
import { HEADER, hasBody, requestHeaders, stampCaller } from './headers.js';
import { deliverToApp, requestApp } from './inbound.js';
import { invokeUnderPolicy, isConnectionLost, underBuiltInRetries, type BufferedCall } from './resilient.js';
import { basicAuthAppId, normaliseMethod, parseTarget, splitInvokePath, type Target } from './target.js';
import { dial, splice, upgradeHead } from './tunnel.js';
import type { Forwarded } from './forwarded.js';
import { type PoolSettings, type Upstreams, type UpstreamRequest, type UpstreamResponse } from './upstream.js';

export interface InvokeContext {
  appId: string;
  /** Namespace of this sidecar ('default' when NAMESPACE is unset). */
  namespace: string;
  /** NAMESPACE as set (Dapr stamps an empty caller namespace in self-hosted mode without it). */
  callerNamespace: string | undefined;
  /** The address this sidecar announces (for Forwarded / X-Forwarded-*). */
  host: string;
  channel: AppChannel | undefined;
  appApiToken: string | undefined;
  policies: PolicyProvider;
  resolver: NameResolver;
  endpoints: ReadonlyMap<string, Endpoint>;
  upstreams: Upstreams;
  tunnels: UpgradeTracker;
  proxyRules: ForwardProxyRules;
  logger: Logger;
  /** Our SVID for calls to peer sidecars (mutual TLS); undefined: plaintext. */
  peerTls?: MtlsContext | undefined;
  /** Caller-side dapr_runtime_service_invocation_* (absent when metrics are off). */
  metrics?: InvocationMetrics;
}

export interface InvocationMetrics {
  recordInvocationSent(dstAppId: string, streaming: boolean): void;
  recordInvocationResponse(calleeAppId: string, status: number, streaming: boolean, elapsedMs: number): void;
}

const VERBS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'PATCH'];
const NO_APP_ID = 'failed getting app id either from the URL path or the header dapr-app-id';

export class Invoker {
  readonly routes: Route[];
  private readonly turn = new Map<string, number>();
  private readonly caller: { appId: string; namespace: string | undefined; host: string };

  constructor(private readonly ctx: InvokeContext) {
    this.caller = { appId: ctx.appId, namespace: ctx.callerNamespace, host: ctx.host };
    this.routes = VERBS.map((method) => ({ method, path: '/v1.0/invoke/{appId}/method/{method*}', group: 'invoke' as const, handler: this.viaPath }));
  }

  private readonly viaPath: Handler = async (ex) => {
    const byHeader = this.headerTarget(ex);
    if (byHeader) return this.invoke(ex, parseTarget(byHeader), normaliseMethod(ex.path, byHeader));
    const split = splitInvokePath(ex.path);
    if (!split) throw new DaprError('invokeNoAppId', NO_APP_ID);
    return this.invoke(ex, parseTarget(split.target), normaliseMethod(split.rawMethod, split.target));
  };

  /** The router's fallback: header-addressed invocations, URL targets, the forward proxy. */
  readonly fallback: Handler = async (ex) => {
    if (ex.req.method === 'CONNECT') return this.connectTunnel(ex);
    const url = ex.req.url ?? '/';
    if (url.charCodeAt(0) !== 0x2f /* / */) return this.forwardProxy(ex, url);
    const byHeader = this.headerTarget(ex);
    if (byHeader) return this.invoke(ex, parseTarget(byHeader), normaliseMethod(ex.path, byHeader));
    // `/v1.0/invoke/http://host/method/x`: the raw URL does not fit the route's one segment.
    const split = splitInvokePath(ex.path);
    if (split && VERBS.includes(ex.req.method ?? '')) return this.invoke(ex, parseTarget(split.target), normaliseMethod(split.rawMethod, split.target));
    throw new DaprError('invokeNoAppId', NO_APP_ID);
  };

  private readonly peerPools = new Map<string, PoolSettings>();

  /** With mTLS, each peer app's pool checks that the server's SVID names that app. */
  private peerSettings(appId: string, namespace: string): PoolSettings | undefined {
    const tls = this.ctx.peerTls;
    if (!tls) return undefined;
    const key = `${appId}.${namespace}`;
    let s = this.peerPools.get(key);
    if (!s) {
      s = { connections: 128, connect: tls.connector({ appId, namespace }) as PoolSettings['connect'] };
      this.peerPools.set(key, s);
    }
    return s;
  }

  /** One request to a peer sidecar's internal port (actor calls): the same pools and mTLS as invocation. */
  requestPeer(peer: { appId: string; namespace: string; host: string; port: number }, req: UpstreamRequest): Promise<UpstreamResponse> {
    const origin = `${this.ctx.peerTls ? 'https' : 'http'}://${peer.host.includes(':') ? `[${peer.host}]` : peer.host}:${peer.port}`;
    return this.ctx.upstreams.request(origin, req, this.peerSettings(peer.appId, peer.namespace));
  }

  private headerTarget(ex: Exchange): string | undefined {
    return ex.header(HEADER.appId) || basicAuthAppId(ex.header('authorization'));
  }

  private async invoke(ex: Exchange, target: Target, method: string, query = ex.rawQuery): Promise<void> {
    const path = query ? `${method}?${query}` : method;
    if (target.kind === 'url') return this.external(ex, endpointFromUrl(target.raw, target.baseUrl), path, target.raw);
    const endpoint = target.namespace === undefined ? this.ctx.endpoints.get(target.appId) : undefined;
    if (endpoint) return this.external(ex, endpoint, path, target.raw);
    const namespace = target.namespace ?? this.ctx.namespace;
    const headers = requestHeaders(ex.req.headers);
    stampCaller(headers, this.caller, target.appId, undefined);
    if (target.appId === this.ctx.appId && namespace === this.ctx.namespace) {
      if (isUpgrade(ex.req)) return deliverToApp(this.ctx, ex, path, headers, target.raw);
      const res = await invokeUnderPolicy(this.ctx.policies.app(target.raw, method), ex, target.raw, (body, signal) => requestApp(this.ctx, ex.req.method!, path, headers, target.raw, body, signal));
      return res.relayTo(ex.res, ex.req.headers.accept === 'text/event-stream');
    }
    return this.remote(ex, target, namespace, path, headers, method);
  }

  /**
   * A whole-message call to an app (the gRPC API's InvokeService): the same target rules,
   * resiliency policy, name resolution, pools and caller headers as the HTTP route; the answer
   * is returned, not relayed. `headers` are the caller's, still to be filtered and stamped.
   */
  async call(c: { target: string; method: string; verb: string; query: string; headers: Record<string, string | string[]>; body: Buffer | null; signal: AbortSignal | undefined }): Promise<Forwarded> {
    const target = parseTarget(c.target);
    if (target.kind !== 'app' || (target.namespace === undefined && this.ctx.endpoints.has(target.appId))) {
      throw new DaprError('badRequest', `invalid request: ${c.target} is not an app id; HTTPEndpoints and URLs are reached through the HTTP API`);
    }
    const method = normaliseMethod(c.method, c.target);
    const path = c.query ? `${method}?${c.query}` : method;
    const namespace = target.namespace ?? this.ctx.namespace;
    const headers = requestHeaders(c.headers);
    stampCaller(headers, this.caller, target.appId, undefined);
    const from = { body: c.body, signal: c.signal };
    if (target.appId === this.ctx.appId && namespace === this.ctx.namespace) {
      return invokeUnderPolicy(this.ctx.policies.app(target.raw, method), from, target.raw, (body, signal) => requestApp(this.ctx, c.verb, path, headers, target.raw, body, signal));
    }
    const { peers, first } = await this.peersOf(target, namespace);
    return this.toPeers(from, c.verb, target, namespace, peers, first, path, headers, method);
  }

  /** The instances of an app, and which one this call starts with (round-robin). */
  private async peersOf(target: Target & { kind: 'app' }, namespace: string): Promise<{ peers: PeerAddress[]; first: number }> {
    let peers: PeerAddress[];
    try {
      peers = await this.ctx.resolver.resolve(target.appId, namespace);
    } catch (err) {
      throw new DaprError('invokeFailed', `failed to invoke, id: ${target.raw}, err: failed to resolve address for '${target.appId}': ${(err as Error).message}`, { cause: err });
    }
    if (peers.length === 0) {
      throw new DaprError('invokeFailed', `failed to invoke, id: ${target.raw}, err: couldn't find service: ${target.appId}`);
    }
    const key = `${target.appId}.${namespace}`;
    const first = (this.turn.get(key) ?? 0) % peers.length;
    this.turn.set(key, first + 1);
    return { peers, first };
  }

  private async remote(ex: Exchange, target: Target & { kind: 'app' }, namespace: string, path: string, headers: Record<string, string | string[]>, method: string): Promise<void> {
    const { peers, first } = await this.peersOf(target, namespace);
    if (isUpgrade(ex.req)) return this.tunnelToPeer(ex, target.raw, peers, first, path, headers);
    const up = await this.toPeers(ex, ex.req.method!, target, namespace, peers, first, path, headers, method);
    await up.relayTo(ex.res, ex.req.headers.accept === 'text/event-stream');
  }

  /** One call to a peer sidecar of the target app, under the caller's policy for it. */
  private async toPeers(
    from: Exchange | BufferedCall, verb: string, target: Target & { kind: 'app' }, namespace: string,
    peers: PeerAddress[], first: number, path: string, headers: Record<string, string | string[]>, method: string,
  ): Promise<Forwarded> {
    const { resolver, upstreams } = this.ctx;
    const policy = this.ctx.policies.app(target.raw, method);
    const metrics = this.ctx.metrics;
    const started = metrics ? performance.now() : 0;
    metrics?.recordInvocationSent(target.appId, false);
    let attempt = 0;
    const builtIn = this.ctx.policies.builtInServiceRetries?.(target.appId);
    const up = await invokeUnderPolicy(policy, from, target.raw, (body, signal) => underBuiltInRetries(builtIn, from instanceof Exchange ? from.req : undefined, body, signal, async (signal) => {
      // A peer that refuses the connection is skipped for the next instance, as long as
      // nothing of the body has been read yet (otherwise it could not be sent again). A retry
      // of the policy starts at the next instance, so a sick instance is not asked again.
      const start = first + attempt++;
      let lastErr: unknown;
      for (let i = 0; i < peers.length; i++) {
        const peer = peers[(start + i) % peers.length]!;
        const origin = `${this.ctx.peerTls ? 'https' : 'http'}://${peer.host.includes(':') ? `[${peer.host}]` : peer.host}:${peer.port}`;
        try {
          return await upstreams.forward(origin, { method: verb, path, headers, body, signal }, this.peerSettings(target.appId, namespace));
        } catch (err) {
          lastErr = err;
          if (!isConnectionLost(err, false) || (body !== null && !Buffer.isBuffer(body) && (body as Readable).readableDidRead)) break;
          resolver.markDown?.(target.appId, namespace, peer);
          upstreams.forget(origin);
        }
      }
      throw invokeError(target.raw, lastErr);
    }), builtIn !== undefined).catch((err: unknown) => {
      metrics?.recordInvocationResponse(target.appId, err instanceof DaprError ? err.status : 500, false, performance.now() - started);
      throw err;
    });
    metrics?.recordInvocationResponse(target.appId, up.statusCode, false, performance.now() - started);
    return up;
  }

  private async tunnelToPeer(ex: Exchange, raw: string, peers: PeerAddress[], first: number, path: string, headers: Record<string, string | string[]>): Promise<void> {
    let lastErr: unknown;
    for (let i = 0; i < peers.length; i++) {
      const peer = peers[(first + i) % peers.length]!;
      try {
        const tls = this.ctx.peerTls?.clientOptions({ appId: raw.split('.')[0]!, namespace: raw.split('.')[1] ?? this.ctx.namespace });
        const upstream = await dial({ host: peer.host, port: peer.port, tls });
        return this.spliceUpgrade(ex, upstream, path, `${peer.host}:${peer.port}`, headers);
      } catch (err) {
        lastErr = err;
      }
    }
    throw invokeError(raw, lastErr);
  }

  private spliceUpgrade(ex: Exchange, upstream: import('node:net').Socket, path: string, host: string, headers: Record<string, string | string[]>): void {
    const { socket, head } = takeOverSocket(ex);
    this.ctx.tunnels.track(upstream);
    upstream.write(upgradeHead(ex.req.method ?? 'GET', path, host, String(ex.req.headers.upgrade), headers));
    if (head.length > 0) upstream.write(head);
    splice(socket, upstream);
  }

  /** HTTPEndpoints, URL targets and pass-through proxying: straight from this sidecar. */
  private async external(ex: Exchange, endpoint: Endpoint, path: string, raw: string): Promise<void> {
    const headers = requestHeaders(ex.req.headers);
    for (const k in endpoint.headers) headers[k.toLowerCase()] = endpoint.headers[k]!;
    const fullPath = endpoint.basePath + path;
    if (isUpgrade(ex.req)) {
      const url = new URL(endpoint.origin);
      const secure = url.protocol === 'https:';
      let upstream;
      try {
        upstream = await dial({ host: url.hostname, port: Number(url.port || (secure ? 443 : 80)), tls: secure ? (endpoint.tls ?? {}) : undefined });
      } catch (err) {
        throw invokeError(raw, err);
      }
      return this.spliceUpgrade(ex, upstream, fullPath, url.host, headers);
    }
    const settings = endpoint.tls ? { connections: 128, tls: endpoint.tls, owner: endpoint.name } : undefined;
    const up: Forwarded = await invokeUnderPolicy(this.ctx.policies.app(raw, endpoint.origin + endpoint.basePath), ex, raw, async (body, signal) => {
      try {
        return await this.ctx.upstreams.forward(endpoint.origin, { method: ex.req.method!, path: fullPath, headers, body, signal }, settings);
      } catch (err) {
        throw invokeError(raw, err);
      }
    });
    await up.relayTo(ex.res, ex.req.headers.accept === 'text/event-stream');
  }

  /** Absolute-form request targets: `HTTP_PROXY` pointed at this sidecar. */
  private async forwardProxy(ex: Exchange, rawUrl: string): Promise<void> {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw new DaprError('badRequest', `invalid request target ${rawUrl}`);
    }
    if (url.protocol !== 'http:') throw new DaprError('badRequest', `forward proxy: unsupported scheme ${url.protocol}`);
    const host = url.hostname;
    const method = normaliseMethod(url.pathname, host);
    const query = url.search.slice(1);
    const endpoint = this.ctx.endpoints.get(host);
    if (endpoint) return this.invoke(ex, { kind: 'app', appId: host, namespace: undefined, raw: host }, method, query);
    if (await this.isAppId(host)) return this.invoke(ex, parseTarget(host), method, query);
    if (!this.ctx.proxyRules.allows(host)) {
      throw new DaprError('invokeForbidden', `failed to invoke, id: ${host}, err: forward proxy: host ${host} is not an app id or HTTPEndpoint and pass-through is denied by the Configuration`);
    }
    const path = url.search ? `${method}${url.search}` : method;
    const passthrough = endpointFromUrl(url.host, `${url.protocol}//${url.host}`);
    const headers = requestHeaders(ex.req.headers);
    if (isUpgrade(ex.req)) {
      let upstream;
      try {
        upstream = await dial({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 80) });
      } catch (err) {
        throw invokeError(url.host, err);
      }
      return this.spliceUpgrade(ex, upstream, path, url.host, headers);
    }
    const body = hasBody(ex.req.headers) ? (ex.req as Readable) : null;
    let up: Forwarded;
    try {
      up = await this.ctx.upstreams.forward(passthrough.origin, { method: ex.req.method!, path, headers, body });
    } catch (err) {
      throw invokeError(url.host, err);
    }
    await up.relayTo(ex.res, false);
  }

  private async isAppId(host: string): Promise<boolean> {
    const parts = host.split('.');
    if (parts.length > 2) return false;
    const [appId, namespace = this.ctx.namespace] = parts as [string, string?];
    if (appId === this.ctx.appId && namespace === this.ctx.namespace) return true;
    // Kubernetes DNS answers for any name; only dotless names count as app ids there.
    if (this.ctx.resolver.name === 'kubernetes') return parts.length === 1;
    try {
      return (await this.ctx.resolver.resolve(appId, namespace)).length > 0;
    } catch {
      return false;
    }
  }

  /** CONNECT host:port: an opaque tunnel, subject to the same pass-through rule. */
  private async connectTunnel(ex: Exchange): Promise<void> {
    const authority = ex.req.url ?? '';
    const colon = authority.lastIndexOf(':');
    const host = colon > 0 ? authority.slice(0, colon).replace(/^\[|\]$/g, '') : authority;
    const port = colon > 0 ? Number(authority.slice(colon + 1)) : 443;
    if (!host || !Number.isInteger(port) || port <= 0 || port > 65535) throw new DaprError('badRequest', `CONNECT needs host:port, got ${authority}`);
    if (!this.ctx.proxyRules.allows(host)) {
      throw new DaprError('invokeForbidden', `failed to invoke, id: ${host}, err: forward proxy: CONNECT to ${host} is denied by the Configuration`);
    }
    let upstream;
    try {
      upstream = await dial({ host, port });
    } catch (err) {
      throw invokeError(authority, err);
    }
    const { socket, head } = takeOverSocket(ex);
    this.ctx.tunnels.track(upstream);
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) upstream.write(head);
    splice(socket, upstream);
  }
}

function invokeError(target: string, err: unknown): DaprError {
  if (err instanceof DaprError) return err;
  const e = err as Error & { code?: string };
  const why = e?.code && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : e?.message ?? String(err);
  return new DaprError('invokeFailed', `failed to invoke, id: ${target}, err: ${why}`, { cause: err });
}
