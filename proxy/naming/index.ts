// The name resolvers by the name Configuration `spec.nameResolution.component` gives them.
// `mdns` (Dapr's self-hosted default) maps to the local registry, which plays its role here.
import { KubernetesResolver } from './kubernetes-resolver.js';
import { LocalRegistryResolver } from './local-resolver.js';
import { PostgresResolver } from './postgres-resolver.js';
import { RedisResolver } from './redis-resolver.js';
import type { ResolverFactory } from './resolver.js';

export const RESOLVERS: Readonly<Record<string, ResolverFactory>> = {
  local: (_config, ctx) => new LocalRegistryResolver(ctx),
  mdns: (_config, ctx) => new LocalRegistryResolver(ctx),
  kubernetes: (config) => new KubernetesResolver(config),
  redis: (config, ctx) => new RedisResolver(config, ctx),
  postgresql: (config, ctx) => new PostgresResolver(config, ctx),
  postgres: (config, ctx) => new PostgresResolver(config, ctx),
};
