// The bindings building block: output bindings through the API, input bindings started once
// the app is reachable.
import type { BlockFactory } from '../block.js';
import { bindingsGrpc } from './grpc.js';
import { InputBindings } from './inbound.js';
import { bindingsRoutes } from './routes.js';
import { BindingsService } from './service.js';

export const bindingsBlock: BlockFactory = (ctx) => {
  const loaded = ctx.components.loaded('bindings');
  const service = new BindingsService(loaded, ctx.policies, ctx.telemetry);
  const inputs = new InputBindings(loaded, ctx.app, ctx.policies, ctx.telemetry, ctx.logger.child({ block: 'bindings' }));
  return {
    name: 'bindings',
    routes: bindingsRoutes(service),
    grpcServices: bindingsGrpc(service),
    onAppReady: () => inputs.start(),
    close: async () => inputs.close(),
  };
};
