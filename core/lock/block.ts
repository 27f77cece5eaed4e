import type { BlockFactory } from '../block.js';
import { lockGrpc } from './grpc.js';
import { lockRoutes } from './routes.js';
import { LockService } from './service.js';

export const lockBlock: BlockFactory = (ctx) => {
  const service = new LockService(ctx.components.loaded('lock'), ctx.appId, ctx.policies);
  return { name: 'lock', routes: lockRoutes(service), grpcServices: lockGrpc(service) };
};
