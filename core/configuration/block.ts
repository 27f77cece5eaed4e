import type { BlockFactory } from '../block.js';
import type { ConfigurationStore } from './component.js';
import { configurationGrpc } from './grpc.js';
import { configurationRoutes } from './routes.js';
import { ConfigurationService } from './service.js';

export const configurationBlock: BlockFactory = (ctx) => {
  const service = new ConfigurationService(ctx.components.of<ConfigurationStore>('configuration'), ctx.app, ctx.policies, ctx.telemetry, ctx.logger.child({ block: 'configuration' }));
  return { name: 'configuration', routes: configurationRoutes(service), grpcServices: configurationGrpc(service) };
};
