// The composition root: reads resources, builds components through the registry, hands them to
// the building blocks, mounts the blocks' routes behind the API pipeline and starts listeners.
import { createServer as createPlainServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Block } from '../core/block.js';
import type { Logger } from '../core/component.js';
import { stack, type Route } from '../core/http.js';
import type { PolicyProvider } from '../core/policy.js';
import { builtinComponents } from '../components/index.js';
import { registerResiliencyMetrics } from '../policies/metrics.js';
import { startResiliency, type Resiliency } from '../policies/resiliency.js';
import type { ComponentRegistry } from '../components/registry.js';
import { loadConfigurations, type Configuration } from '../resources/configuration.js';
import { decodeDocument, loadResources } from '../resources/load.js';
import { formatGoDuration } from '../resources/duration.js';
import type { ResourceSet } from '../resources/types.js';
import { createLogger } from '../telemetry/logging.js';
import { SidecarTelemetry } from '../telemetry/sidecar-telemetry.js';
import { runtimeGrpc } from './api/runtime-grpc.js';
import { runtimeRoutes, type RuntimeView } from './api/runtime-routes.js';
import { AppChannel } from './app-channel.js';
import { BLOCKS } from './blocks.js';
import { loadComponents, type LoadedComponents } from './components-loader.js';
import { embeddedDefaults } from './embedded-defaults.js';
import { invokeGrpc } from './invoke/grpc.js';
import { InvocationService } from './invoke/service.js';
import { apiLoggingLayer } from './layers/api-logging.js';
import { apiTokenLayer } from './layers/api-token.js';
import { baggageLayer } from './layers/baggage.js';
import { errorCodeLayer, inboundMetricsLayer, metricsLayer } from './layers/metrics.js';
import { inboundTraceLayer, traceLayer } from './layers/trace.js';
import { rescueLayer } from './layers/rescue.js';
import { OnDemandGrpcListener } from './listeners/grpc-on-demand.js';
import { HttpListener } from './listeners/http-server.js';
import { announcedAddress } from './naming/host-address.js';
import { createPlacement } from './placement/index.js';
import { removeEntry, writeEntry, type RegistryEntry } from './naming/local-registry.js';
import type { SidecarOptions } from './options.js';
import { Router } from './router.js';
import { startSecurity } from './security.js';
import { RUNTIME_VERSION } from './version.js';

export { RUNTIME_VERSION };

export interface SidecarPorts {
  http: number;
  grpc: number;
  metrics: number;
  internal: number;
  public?: number;
}

export class Sidecar {
  private readonly shutdownListeners: Array<(code: number) => void> = [];
  private stopping: Promise<void> | undefined;
  private registryFile: string | undefined;
  private outboundReady = false;
  private blocksReady = false;
  private readonly startedAt = Date.now();
  /** Stops watching the resources folders for Resiliency changes. */
  private closeResiliency: () => void = () => undefined;
  private resiliencyNames: () => readonly string[] = () => [];
  /** Stops the gRPC API listener. */
  private closeGrpc: () => Promise<void> = async () => undefined;

  private constructor(
    readonly options: SidecarOptions,
    readonly logger: Logger,
    readonly configuration: Configuration,
    readonly resources: ResourceSet,
    private readonly components: LoadedComponents,
    private readonly blocks: readonly Block[],
    private readonly channel: AppChannel | undefined,
    private readonly api: HttpListener,
    private readonly metricsServer: Server | undefined,
    readonly ports: SidecarPorts,
    private readonly extended: Map<string, string>,
    private readonly invocation: InvocationService,
    private readonly telemetry: SidecarTelemetry,
  ) {}

  static async start(options: SidecarOptions, registry: ComponentRegistry = builtinComponents()): Promise<Sidecar> {
    const logger = createLogger({
      level: options.logLevel,
      json: options.logAsJson,
      appId: options.appId,
      version: RUNTIME_VERSION,
      ...(options.logSink ? { write: options.logSink } : {}),
    });
    logger.info(`starting bulwark ${RUNTIME_VERSION} for app ${options.appId}`);
    const configuration = loadConfigurations(options.configFiles, options.env);
    const telemetry = await SidecarTelemetry.create({
      appId: options.appId,
      ...(options.namespace ? { namespace: options.namespace } : {}),
      tracing: configuration.tracing,
      metric: configuration.metric,
      enableMetrics: options.enableMetrics,
      env: options.env,
      logger,
    });
    const resources = readResources(options);
    for (const w of resources.warnings) logger.warn(w);
    const components = await loadComponents(resources.components, registry, {
      appId: options.appId,
      homeDir: options.homeDir,
      cwd: options.cwd,
      env: options.env,
      logger,
      deny: configuration.componentsDeny,
      ...(options.namespace ? { namespace: options.namespace } : {}),
    });
    for (const c of components.all()) telemetry.metrics?.recordComponentInit(c.type, c.name);
    try {
      return await Sidecar.assemble(options, logger, configuration, resources, components, telemetry);
    } catch (err) {
      await components.closeAll(logger);
      await telemetry.shutdown();
      throw err;
    }
  }

  private static async assemble(
    options: SidecarOptions,
    logger: Logger,
    configuration: Configuration,
    resources: ResourceSet,
    components: LoadedComponents,
    telemetry: SidecarTelemetry,
  ): Promise<Sidecar> {
    // Resiliency policies from the resources folders, re-read when a Resiliency file changes.
    const resiliency = startResiliency({
      appId: options.appId,
      logger,
      resources: resources.resiliencies,
      // Dapr 1.18 turns the HotReload feature on by default; `features: [{name: HotReload, enabled: false}]` turns it off.
      watchFolders: configuration.features.get('HotReload') === false ? [] : options.resourcesPaths,
      componentType: (name) => components.all().find((c) => c.name === name)?.type,
    });
    const policies: PolicyProvider = resiliency.provider;
    const channel = options.appPort
      ? new AppChannel({
          address: options.appChannelAddress,
          port: options.appPort,
          health: options.appHealth,
          maxConcurrency: options.appMaxConcurrency,
          logger,
          ...(telemetry.metrics ? { metrics: telemetry.metrics } : {}),
          ...(options.appApiToken ? { appApiToken: options.appApiToken } : {}),
        })
      : undefined;
    const blocks: Block[] = [];
    const placement = await createPlacement({ appId: options.appId, homeDir: options.homeDir, configuration, logger, ...(options.namespace ? { namespace: options.namespace } : {}) });
    for (const factory of BLOCKS) {
      blocks.push(
        await factory({
          appId: options.appId,
          homeDir: options.homeDir,
          configuration,
          resources,
          components,
          policies,
          telemetry,
          logger,
          app: channel,
          placement,
          ...(options.namespace ? { namespace: options.namespace } : {}),
        }),
      );
    }
    const extended = new Map<string, string>(Object.entries(options.extended));
    // The runtime view needs the sidecar, which needs the listener: bind through a holder.
    let self: Sidecar | undefined;
    const view: RuntimeView = {
      appId: options.appId,
      isOutboundReady: () => self?.outboundReady ?? false,
      unready: () => self?.unready() ?? ['starting'],
      metadata: () => self?.metadata() ?? {},
      setExtended: (k, v) => (self ? self.setExtended(k, v) : extended.set(k, v)),
      shutdown: (force) => self?.requestShutdown(force),
    };
    const security = await startSecurity(options, configuration, logger, telemetry.security);
    const invocation = await InvocationService.create({
      appId: options.appId,
      namespace: options.namespace,
      homeDir: options.homeDir,
      listenAddress: options.listenAddress,
      hostAddress: announcedAddress(options.env.DAPR_HOST_IP, options.listenAddress),
      internalPort: options.internalPort,
      publicPort: options.publicPort,
      security: security.inbound,
      maxBodyBytes: options.maxBodyBytes,
      gracefulShutdownMs: options.gracefulShutdownMs,
      appApiToken: options.appApiToken,
      channel,
      policies,
      configuration,
      resources,
      components,
      env: options.env,
      logger,
      inboundLayers: [inboundTraceLayer(telemetry, options.appId), inboundMetricsLayer(telemetry.metrics)],
      internalRoutes: blocks.flatMap((b) => b.internalRoutes ?? []),
      ...(telemetry.metrics ? { metrics: telemetry.metrics } : {}),
    });
    const routes = allowedRoutes([...runtimeRoutes(view), ...invocation.invoker.routes, ...blocks.flatMap((b) => b.routes)], configuration);
    const router = new Router(routes, invocation.invoker.fallback);
    const apiLogging = configuration.logging.apiLogging as Record<string, unknown> | undefined;
    // API log lines are written at info whatever --log-level says, as Dapr pins that logger.
    const apiLogger = createLogger({ level: 'info', json: options.logAsJson, appId: options.appId, version: RUNTIME_VERSION, ...(options.logSink ? { write: options.logSink } : {}) });
    // Outermost first, in Dapr's order.
    const handler = stack(router.handle, [
      traceLayer(telemetry), // first: the span covers everything, rejected calls included
      metricsLayer(telemetry.metrics), // before the token check: 401s are counted, as in Dapr
      baggageLayer(),
      apiTokenLayer(options.apiToken), // before logging: rejected calls are not API-logged
      apiLoggingLayer(
        {
          enabled: options.enableApiLogging || apiLogging?.enabled === true,
          obfuscateURLs: apiLogging?.obfuscateURLs === true,
          omitHealthChecks: apiLogging?.omitHealthChecks === true,
        },
        apiLogger,
      ),
      // Innermost: every handler may throw; the layers above see the final status.
      rescueLayer(logger),
      errorCodeLayer(telemetry.metrics, telemetry.metricSettings.recordErrorCodes), // inside rescue: sees the thrown DaprError
    ]);
    const api = new HttpListener(handler, options.maxBodyBytes);
    invocation.serveApi(api.server, handler);
    const httpPort = await api.listen(options.httpPort, options.listenAddress, '--dapr-http-port');
    try {
      await invocation.listen();
      await invocation.register(httpPort);
    } catch (err) {
      await api.close(0);
      await invocation.close();
      throw err;
    }
    // The gRPC API: the blocks' rpcs behind the same concerns as the HTTP API. The port is bound
    // now; the gRPC stack loads on its first connection (see grpc-on-demand.ts).
    const grpcServices = [runtimeGrpc(view), invokeGrpc(invocation.invoker), ...blocks.map((b) => b.grpcServices)];
    const grpc = new OnDemandGrpcListener(
      async () =>
        new (await import('./listeners/grpc-server.js')).GrpcListener(grpcServices, {
          apiToken: options.apiToken,
          telemetry,
          metrics: telemetry.metrics,
          logger,
          maxMessageBytes: options.maxBodyBytes,
        }),
      logger,
    );
    let grpcPort: number;
    try {
      grpcPort = await grpc.listen(options.grpcPort, options.listenAddress);
    } catch (err) {
      await api.close(0);
      await invocation.close();
      throw err;
    }
    let metricsServer: Server | undefined;
    let metricsPort = 0;
    if (telemetry.metrics) {
      try {
        ({ server: metricsServer, port: metricsPort } = await startMetrics(options, resiliency, telemetry));
      } catch (err) {
        await api.close(0);
        await invocation.close();
        await grpc.close(0);
        throw err;
      }
    }
    const ports: SidecarPorts = { http: httpPort, grpc: grpcPort, metrics: metricsPort, internal: invocation.ports.internal, ...(invocation.ports.public ? { public: invocation.ports.public } : {}) };
    const sidecar = new Sidecar(options, logger, configuration, resources, components, blocks, channel, api, metricsServer, ports, extended, invocation, telemetry);
    self = sidecar;
    sidecar.closeResiliency = resiliency.close;
    sidecar.resiliencyNames = () => resiliency.provider.resourceNames;
    sidecar.closeGrpc = () => grpc.close(Math.min(options.gracefulShutdownMs, 1000));
    sidecar.outboundReady = true;
    sidecar.register();
    logger.info(`HTTP API listening on ${options.listenAddress}:${httpPort}`);
    logger.info(`gRPC API listening on ${options.listenAddress}:${grpcPort}`);
    logger.info(`internal (sidecar-to-sidecar) listening on ${options.listenAddress}:${ports.internal}${ports.public ? `; public fronting on ${options.listenAddress}:${ports.public}` : ''}`);
    for (const b of blocks) b.onPeersReady?.(invocation.peerClient());
    if (channel) {
      channel.onReady(() => void sidecar.appReady());
      channel.start();
    } else {
      void sidecar.appReady();
    }
    return sidecar;
  }

  private async appReady(): Promise<void> {
    for (const b of this.blocks) {
      try {
        await b.onAppReady?.();
      } catch (err) {
        this.logger.error(`${b.name}: start-up with the app failed: ${(err as Error).message}`);
      }
    }
    this.blocksReady = true;
  }

  private unready(): string[] {
    const missing: string[] = [];
    if (!this.outboundReady) missing.push('api');
    if (this.channel && !this.channel.isReady) missing.push('app-channel');
    else if (!this.blocksReady) missing.push('blocks');
    return missing;
  }

  private register(): void {
    this.registryFile = writeEntry(this.options.homeDir, this.registryEntry());
  }

  private registryEntry(): RegistryEntry {
    const o = this.options;
    const x = (k: string): string | undefined => this.extended.get(k);
    return {
      appId: o.appId,
      pid: process.pid,
      host: '127.0.0.1',
      httpPort: this.ports.http,
      grpcPort: this.ports.grpc,
      internalPort: this.ports.internal,
      ...(this.ports.public ? { publicPort: this.ports.public } : {}),
      metricsPort: this.ports.metrics,
      startedAt: this.startedAt,
      ...(o.appPort ? { appPort: o.appPort } : {}),
      ...(o.namespace ? { namespace: o.namespace } : {}),
      ...(x('cliPID') ? { cliPid: Number(x('cliPID')) } : {}),
      ...(x('appPID') ? { appPid: Number(x('appPID')) } : {}),
      ...(x('appCommand') ? { command: x('appCommand') } : {}),
      ...(x('runTemplatePath') ? { runFile: x('runTemplatePath') } : {}),
    };
  }

  /** Records a fact under `extended` (the CLI stores appPID, appCommand...), kept in the registry too. */
  setExtended(key: string, value: string): void {
    this.extended.set(key, value);
    if (this.registryFile && !this.stopping) this.registryFile = writeEntry(this.options.homeDir, this.registryEntry());
  }

  metadata(): Record<string, unknown> {
    const o = this.options;
    const out: Record<string, unknown> = {
      id: o.appId,
      runtimeVersion: RUNTIME_VERSION,
      enabledFeatures: [...this.configuration.features].filter(([, on]) => on).map(([n]) => n),
      components: this.components.all().map((c) => ({
        name: c.name,
        type: c.type,
        version: c.version,
        capabilities: [...(c.instance.features ?? [])],
      })),
      extended: { daprRuntimeVersion: RUNTIME_VERSION, ...Object.fromEntries(this.extended) },
      subscriptions: [],
      httpEndpoints: this.resources.httpEndpoints.map((e) => ({ name: e.name })),
      appConnectionProperties: appConnection(o),
    };
    const resiliencies = this.resiliencyNames(); // the set in force, hot reloads included
    if (resiliencies.length > 0) out.resiliencies = resiliencies.map((name) => ({ name }));
    for (const b of this.blocks) b.metadata?.(out);
    return out;
  }

  onShutdown(fn: (code: number) => void): void {
    this.shutdownListeners.push(fn);
  }

  private requestShutdown(force: boolean): void {
    if (force) {
      this.logger.warn('forced shutdown requested through the API');
      setTimeout(() => this.emitShutdown(1), 100).unref();
      return;
    }
    this.logger.info('shutdown requested through the API');
    void this.shutdown().then(() => this.emitShutdown(0));
  }

  private emitShutdown(code: number): void {
    for (const fn of this.shutdownListeners.splice(0)) fn(code);
  }

  /** Stops accepting, drains in-flight requests up to the graceful timeout, closes everything. */
  shutdown(): Promise<void> {
    this.stopping ??= (async () => {
      this.logger.info(`shutting down (graceful timeout ${formatGoDuration(this.options.gracefulShutdownMs)})`);
      if (this.registryFile) removeEntry(this.registryFile);
      this.outboundReady = false;
      await Promise.all([this.api.close(this.options.gracefulShutdownMs), this.invocation.close(), this.closeGrpc()]);
      this.closeResiliency();
      for (const b of [...this.blocks].reverse()) {
        try {
          await b.close?.();
        } catch (err) {
          this.logger.warn(`${b.name}: close failed: ${(err as Error).message}`);
        }
      }
      await this.components.closeAll(this.logger);
      await this.channel?.close();
      await new Promise<void>((resolve) => (this.metricsServer ? this.metricsServer.close(() => resolve()) : resolve()));
      await this.telemetry.shutdown();
      this.logger.info('sidecar stopped');
    })();
    return this.stopping;
  }
}

function readResources(options: SidecarOptions): ResourceSet {
  const loadOpts = { appId: options.appId, ...(options.namespace ? { namespace: options.namespace } : {}) };
  if (options.resourcesPaths.length > 0 || !options.embeddedDefaults) return loadResources(options.resourcesPaths, loadOpts);
  const set: ResourceSet = { components: [], httpEndpoints: [], subscriptions: [], resiliencies: [], warnings: [] };
  for (const [name, value] of Object.entries(embeddedDefaults(options.homeDir))) {
    const r = decodeDocument(`(embedded)/${name}`, 1, value, set.warnings);
    if (r?.kind === 'Component') set.components.push(r);
  }
  return set;
}

/** Configuration spec.api: denied groups first; with an allow list only listed groups. */
function allowedRoutes(routes: Route[], cfg: Configuration): Route[] {
  const http = (rules: typeof cfg.api.allowed): Set<string> => new Set(rules.filter((r) => r.protocol === 'http').map((r) => `${r.version}/${r.name}`));
  const allowed = http(cfg.api.allowed);
  const denied = http(cfg.api.denied);
  return routes.filter((r) => {
    if (r.group === 'healthz') return true;
    const key = `${r.path.split('/')[1]}/${r.group}`;
    if (denied.has(key)) return false;
    return allowed.size === 0 || allowed.has(key);
  });
}

function appConnection(o: SidecarOptions): Record<string, unknown> {
  const out: Record<string, unknown> = { protocol: o.appProtocol, channelAddress: o.appChannelAddress };
  if (o.appPort) out.port = o.appPort;
  if (o.appMaxConcurrency > 0) out.maxConcurrency = o.appMaxConcurrency;
  if (o.appHealth.enabled) {
    out.health = {
      healthCheckPath: o.appHealth.path,
      healthProbeInterval: formatGoDuration(o.appHealth.intervalMs),
      healthProbeTimeout: formatGoDuration(o.appHealth.timeoutMs),
      healthThreshold: o.appHealth.threshold,
    };
  }
  return out;
}

// Served at every path, as daprd mounts its handler at `/`.
async function startMetrics(options: SidecarOptions, resiliency: Resiliency, telemetry: SidecarTelemetry): Promise<{ server: Server; port: number }> {
  const registry = telemetry.registry;
  registerResiliencyMetrics(registry, resiliency.metrics);
  const server = createPlainServer((_req, res) => {
    telemetry.scrape().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === 'EADDRINUSE' ? `--metrics-port ${options.metricsPort}: port is already in use` : `--metrics-port ${options.metricsPort}: ${err.message}`)),
    );
    server.listen(options.metricsPort, options.listenAddress, () => resolve({ server, port: (server.address() as AddressInfo).port }));
  });
}
