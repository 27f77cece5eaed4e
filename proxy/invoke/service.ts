// Service invocation as the composition root sees it: the calling side's routes and router
// fallback, the internal listener (peer sidecars -> this app), the public fronting listener
// (any client -> this app), name resolution and upstream pools, and their lifecycle.
//
// Inbound stacks, outermost first (one list per listener, built once):
//   internal: rescue -> mtls identity (slot) -> ...extra -> blocks' internal routes (actors),
//             else aclLayer (slot) -> app channel
//   public:   rescue -> aclLayer (slot) -> ...extra -> app channel
// The security issue fills `mtls` (with TLS on the internal listener, a layer that turns the
// peer certificate into the caller identity) and `aclLayer`; tracing and metrics layers go
// into `extra`.
import type { Server } from 'node:http';
import type { ComponentSet } from '../../core/block.js';
import type { Logger } from '../../core/component.js';
import type { PeerClient } from '../../core/app.js';
import { stack, type Handler, type Layer, type Route } from '../../core/http.js';
import type { PolicyProvider } from '../../core/policy.js';
import type { SecretStore } from '../../core/secrets/component.js';
import type { Configuration } from '../../resources/configuration.js';
import type { ResourceSet } from '../../resources/types.js';
import type { ReloadingTls } from '../../security/reloading-tls.js';
import type { MtlsContext } from '../../security/tls.js';
import type { AppChannel } from '../app-channel.js';
import { rescueLayer } from '../layers/rescue.js';
import { HttpListener } from '../listeners/http-server.js';
import { UpgradeTracker } from '../listeners/upgrade.js';
import { RESOLVERS } from '../naming/index.js';
import { Router } from '../router.js';
import { createResolver, type NameResolver } from '../naming/resolver.js';
import { loadEndpoints } from './endpoints.js';
import { ForwardProxyRules } from './forward-proxy.js';
import { Invoker, type InvocationMetrics } from './handler.js';
import { inboundHandler, type AppDelivery } from './inbound.js';
import { Upstreams } from './upstream.js';

export interface InboundSecurity {
  /** Turns the verified peer certificate into the caller identity. */
  mtls: Layer | null;
  /** Access control on the called side (Configuration spec.accessControl). */
  aclLayer: Layer | null;
  /** Mutual TLS of the internal listener and of calls to peers (absent: plaintext). */
  internalTls?: MtlsContext;
  /** HTTPS on the public listener, reloaded when its files change. */
  publicTls?: ReloadingTls;
}

export interface InvocationOptions {
  appId: string;
  namespace: string | undefined;
  homeDir: string;
  listenAddress: string;
  /** The address peers use to reach this sidecar (DAPR_HOST_IP, else the listen address). */
  hostAddress: string;
  internalPort: number;
  publicPort: number | undefined;
  maxBodyBytes: number;
  gracefulShutdownMs: number;
  appApiToken: string | undefined;
  channel: AppChannel | undefined;
  policies: PolicyProvider;
  configuration: Configuration;
  resources: ResourceSet;
  components: ComponentSet;
  env: Readonly<Record<string, string | undefined>>;
  logger: Logger;
  security?: InboundSecurity;
  /** Extra inbound layers (tracing, metrics), outermost first. */
  inboundLayers?: ReadonlyArray<Layer | null>;
  /** Caller-side invocation metrics. */
  metrics?: InvocationMetrics;
  /** Blocks' routes on the internal listener (actor calls between sidecars); the rest goes to the app. */
  internalRoutes?: Route[];
}

const NO_SECURITY: InboundSecurity = { mtls: null, aclLayer: null };

export class InvocationService {
  private internal: HttpListener | undefined;
  private publicListener: HttpListener | undefined;
  ports: { internal: number; public?: number } = { internal: 0 };

  private constructor(
    private readonly o: InvocationOptions,
    readonly resolver: NameResolver,
    readonly invoker: Invoker,
    private readonly upstreams: Upstreams,
    private readonly tunnels: UpgradeTracker,
  ) {}

  static async create(o: InvocationOptions): Promise<InvocationService> {
    const ns = o.namespace ?? 'default';
    const endpoints = await loadEndpoints(o.resources.httpEndpoints, {
      appId: o.appId,
      env: o.env,
      getSecret: async (store, name) => {
        const s = o.components.of<SecretStore>('secretstores').get(store);
        if (!s) throw new Error(`secret store ${store} is not loaded`);
        return s.getSecret(name, o.namespace ? { namespace: o.namespace } : {});
      },
      ...(o.namespace ? { namespace: o.namespace } : {}),
    });
    const resolver = await createResolver(o.configuration, { homeDir: o.homeDir, logger: o.logger }, RESOLVERS);
    const upstreams = new Upstreams({ connections: 128 });
    const tunnels = new UpgradeTracker();
    const invoker = new Invoker({
      appId: o.appId,
      namespace: ns,
      callerNamespace: o.namespace,
      host: o.hostAddress,
      channel: o.channel,
      appApiToken: o.appApiToken,
      policies: o.policies,
      resolver,
      endpoints,
      upstreams,
      tunnels,
      proxyRules: ForwardProxyRules.from(o.configuration),
      peerTls: o.security?.internalTls,
      logger: o.logger,
      ...(o.metrics ? { metrics: o.metrics } : {}),
    });
    return new InvocationService(o, resolver, invoker, upstreams, tunnels);
  }

  /** Upgrades and CONNECT on the HTTP API listener go through the API's own stack. */
  serveApi(server: Server, handler: Handler): void {
    this.tunnels.serve(server, handler, this.o.maxBodyBytes);
  }

  private delivery(): AppDelivery {
    return { appId: this.o.appId, channel: this.o.channel, appApiToken: this.o.appApiToken, tunnels: this.tunnels };
  }

  /** Starts the internal listener and, with --public-port, the fronting listener. */
  async listen(): Promise<{ internal: number; public?: number }> {
    const o = this.o;
    const sec = o.security ?? NO_SECURITY;
    const extra = o.inboundLayers ?? [];
    // Access control covers service invocation only: actor calls between sidecars (the blocks'
    // internal routes) are not subject to it, as in Dapr.
    const toApp = stack(inboundHandler(this.delivery(), true), [sec.aclLayer]);
    const internalEnd = o.internalRoutes?.length ? new Router(o.internalRoutes, toApp).handle : toApp;
    const internalHandler = stack(internalEnd, [
      rescueLayer(o.logger), // outermost: every layer below may throw a DaprError
      sec.mtls, // who is calling (SPIFFE id from the peer certificate)
      ...extra,
    ]);
    this.internal = new HttpListener(internalHandler, o.maxBodyBytes, sec.internalTls?.serverOptions());
    sec.internalTls?.attach(this.internal.server); // rotation swaps the context for new connections
    this.tunnels.serve(this.internal.server, internalHandler, o.maxBodyBytes);
    this.ports.internal = await this.internal.listen(o.internalPort, o.listenAddress, '--dapr-internal-grpc-port');
    if (o.publicPort !== undefined) {
      const publicHandler = stack(inboundHandler(this.delivery(), false, o.policies), [rescueLayer(o.logger), sec.aclLayer, ...extra]);
      this.publicListener = new HttpListener(publicHandler, o.maxBodyBytes, sec.publicTls?.serverOptions());
      sec.publicTls?.attach(this.publicListener.server); // a replaced certificate is served to new connections
      this.tunnels.serve(this.publicListener.server, publicHandler, o.maxBodyBytes);
      try {
        this.ports.public = await this.publicListener.listen(o.publicPort, o.listenAddress, '--public-port');
      } catch (err) {
        await this.internal.close(0);
        throw err;
      }
    }
    return this.ports;
  }

  /** Calls to peers' internal listeners for the blocks (actors), once the internal port is bound. */
  peerClient(): PeerClient {
    const self = { host: this.o.hostAddress, port: this.ports.internal };
    return {
      self,
      request: async (peer, req) => {
        const body = req.body === undefined || req.body === null ? null : typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
        const res = await this.invoker.requestPeer(peer, { method: req.method, path: req.path, headers: req.headers ?? {}, body, signal: req.signal });
        return res as unknown as Awaited<ReturnType<PeerClient['request']>>;
      },
    };
  }

  /** Announces this sidecar to the resolver (after the internal port is bound). */
  async register(httpPort: number): Promise<void> {
    await this.resolver.register({
      appId: this.o.appId,
      namespace: this.o.namespace ?? 'default',
      host: this.o.hostAddress,
      internalPort: this.ports.internal,
      httpPort,
      appPort: this.o.channel ? Number(new URL(this.o.channel.origin).port) : 0,
      pid: process.pid,
    });
  }

  /** Deregisters first (peers stop choosing us), then drains the listeners and closes pools. */
  async close(): Promise<void> {
    await this.resolver.close().catch((err: Error) => this.o.logger.warn(`name resolution: close failed: ${err.message}`));
    await Promise.all([this.internal?.close(this.o.gracefulShutdownMs), this.publicListener?.close(this.o.gracefulShutdownMs)]);
    this.tunnels.closeAll();
    await this.upstreams.close();
  }
}
