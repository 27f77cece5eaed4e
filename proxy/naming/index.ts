// The name resolvers by the name Configuration `spec.nameResolution.component` gives them.
// `mdns` (Dapr's self-hosted default) maps to the local registry, which plays its role here.
// The others are imported when configured, so their drivers (ioredis, pg) load only then.
import { KubernetesResolver } from './kubernetes-resolver.js';
import { LocalRegistryResolver } from './local-resolver.js';
import type { ResolverFactory } from './resolver.js';

export const RESOLVERS: Readonly<Record<string, ResolverFactory>> = {
  local: (_config, ctx) => new LocalRegistryResolver(ctx),
  mdns: (_config, ctx) => new LocalRegistryResolver(ctx),
  kubernetes: (config) => new KubernetesResolver(config),
  redis: async (config, ctx) => new (await import('./redis-resolver.js')).RedisResolver(config, ctx),
  postgresql: async (config, ctx) => new (await import('./postgres-resolver.js')).PostgresResolver(config, ctx),
  postgres: async (config, ctx) => new (await import('./postgres-resolver.js')).PostgresResolver(config, ctx),
};
