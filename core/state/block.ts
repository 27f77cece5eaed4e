// The state building block: the state API routes, and ACTOR added to the actor store's
// capabilities in GET /v1.0/metadata (Dapr's runtime adds it; stores never declare it).
import type { BlockFactory } from '../block.js';
import { stateGrpc } from './grpc.js';
import { stateRoutes } from './routes.js';
import { StateService } from './service.js';

export const stateBlock: BlockFactory = async (ctx) => {
  const service = new StateService(ctx);
  await service.start();
  return {
    name: 'state',
    routes: stateRoutes(service),
    grpcServices: stateGrpc(service),
    metadata(out) {
      const components = out.components as Array<{ name: string; type: string; capabilities?: string[] }> | undefined;
      for (const c of components ?? []) {
        if (!c.type.toLowerCase().startsWith('state.')) continue;
        const caps = service.capabilities(c.name);
        if (caps) c.capabilities = caps;
      }
    },
    close: () => service.close(),
  };
};
