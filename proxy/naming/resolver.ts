// Name resolution: app id (and namespace) -> the internal addresses of that app's sidecars.
// Chosen by Configuration `spec.nameResolution.component`; the self-hosted local registry is the
// default. Resolvers return every live instance; the caller balances among them.
import type { Logger } from '../../core/component.js';
import type { Configuration } from '../../resources/configuration.js';
import { isObject } from '../../resources/decode.js';
import { ResourceError } from '../../resources/resource-error.js';

export interface PeerAddress {
  host: string;
  port: number;
}

/** What this sidecar announces about itself. */
export interface SelfInstance {
  appId: string;
  namespace: string;
  host: string;
  internalPort: number;
  httpPort: number;
  appPort: number;
  pid: number;
}

export interface NameResolver {
  readonly name: string;
  /** Announces this sidecar (the local registry is written by the sidecar itself: a no-op there). */
  register(self: SelfInstance): Promise<void>;
  /** Live addresses of the app's sidecars; empty when there are none. */
  resolve(appId: string, namespace: string): Promise<PeerAddress[]>;
  /** Tells the resolver an address refused a connection, so it is skipped until seen alive again. */
  markDown?(appId: string, namespace: string, address: PeerAddress): void;
  close(): Promise<void>;
}

export interface ResolverContext {
  homeDir: string;
  logger: Logger;
}

export type ResolverFactory = (config: Readonly<Record<string, unknown>>, ctx: ResolverContext) => NameResolver | Promise<NameResolver>;

/** Builds the configured resolver; unknown names are a start-up error naming the file. */
export async function createResolver(cfg: Configuration, ctx: ResolverContext, factories: Readonly<Record<string, ResolverFactory>>): Promise<NameResolver> {
  const nr = cfg.nameResolution;
  const name = typeof nr.component === 'string' && nr.component ? nr.component.toLowerCase() : 'local';
  const config = isObject(nr.configuration) ? (nr.configuration as Record<string, unknown>) : {};
  const factory = factories[name];
  if (!factory) {
    throw new ResourceError(cfg.files.at(-1) ?? '(configuration)', 0, 'spec.nameResolution.component', `unknown name resolver ${String(nr.component)} (known: ${Object.keys(factories).join(', ')})`);
  }
  return factory(config, ctx);
}

/** Case-insensitive lookup in a resolver's configuration map. */
export function configValue(config: Readonly<Record<string, unknown>>, key: string): unknown {
  if (key in config) return config[key];
  const lower = key.toLowerCase();
  for (const k in config) if (k.toLowerCase() === lower) return config[k];
  return undefined;
}
