// Placement as the sidecar builds it: one membership row per sidecar, shared by the actors block
// (actor types) and the workflow block (its internal workflow actor type), over the store that
// Configuration `spec.nameResolution` selects (redis or postgresql: the same server, with the
// resolver's `leaseTTL`; anything else: the local registry under BULWARK_HOME).
import type { ActorPlacement, PlacementFactory } from '../../core/actors/placement.js';
import { createActorsBlock } from '../../core/actors/block.js';
import type { BlockContext, BlockFactory } from '../../core/block.js';
import { isObject } from '../../resources/decode.js';
import { parseGoDuration } from '../../resources/duration.js';
import { configValue } from '../naming/resolver.js';
import { LocalMembership } from './local-membership.js';
import type { MembershipStore } from './membership.js';
import { Placement } from './placement.js';

/** The sidecar's one placement: every caller of the factory gets the same instance. */
export async function createPlacement(ctx: Pick<BlockContext, 'configuration' | 'namespace' | 'logger' | 'homeDir' | 'appId'>): Promise<PlacementFactory> {
  const nr = ctx.configuration.nameResolution;
  const kind = typeof nr.component === 'string' ? nr.component.toLowerCase() : 'local';
  const config = isObject(nr.configuration) ? (nr.configuration as Record<string, unknown>) : {};
  const namespace = ctx.namespace ?? 'default';
  const ttl = configValue(config, 'leaseTTL');
  const leaseMs = (ttl === undefined ? undefined : parseGoDuration(String(ttl))) ?? 10_000;
  const onError = (err: Error): void => ctx.logger.debug(`actors: placement store: ${err.message}`);
  // Imported only when configured: their drivers (ioredis, pg) stay unloaded otherwise.
  const Shared =
    kind === 'redis'
      ? (await import('./redis-membership.js')).RedisMembership
      : kind === 'postgresql' || kind === 'postgres'
        ? (await import('./postgres-membership.js')).PostgresMembership
        : undefined;
  const store = (): MembershipStore => (Shared ? new Shared(config, namespace, leaseMs, onError) : new LocalMembership(ctx.homeDir, namespace));
  let placement: ActorPlacement | undefined;
  return (self) => (placement ??= new Placement(store, self, ctx.appId, namespace, ctx.logger));
}

export const actorsBlock: BlockFactory = (ctx) => createActorsBlock(ctx, ctx.placement);
