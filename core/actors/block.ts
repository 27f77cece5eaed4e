// The actors building block: `/v1.0/actors/...`, the internal route peers use, metadata, and
// the runtime's lifecycle. Placement comes from the composition root (proxy/placement/).
import type { Block, BlockContext } from '../block.js';
import type { PlacementFactory } from './placement.js';
import { actorsGrpc } from './grpc.js';
import { actorRoutes } from './routes.js';
import { ActorsService } from './service.js';

export function createActorsBlock(ctx: BlockContext, placement: PlacementFactory): Block {
  const service = new ActorsService(ctx, placement);
  const { routes, internal } = actorRoutes(service);
  return {
    name: 'actors',
    routes,
    internalRoutes: internal,
    grpcServices: actorsGrpc(service),
    onPeersReady: (peers) => service.attachPeers(peers),
    onAppReady: () => service.start(),
    metadata: (out) => service.metadata(out),
    close: () => service.close(),
  };
}
