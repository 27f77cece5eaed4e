import type { BlockFactory } from '../block.js';
import type { SecretStore } from './component.js';
import { secretsGrpc } from './grpc.js';
import { secretsRoutes } from './routes.js';
import { SecretsService } from './service.js';

export const secretsBlock: BlockFactory = (ctx) => {
  const service = new SecretsService(ctx.components.of<SecretStore>('secretstores'), ctx.configuration.secretScopes, ctx.policies);
  return { name: 'secrets', routes: secretsRoutes(service), grpcServices: secretsGrpc(service) };
};
