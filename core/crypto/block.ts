// The cryptography building block (alpha): encrypt/decrypt in Dapr's `dapr.io/enc/v1` scheme.
import { join } from 'node:path';
import type { BlockFactory } from '../block.js';
import type { CryptoProvider } from './component.js';
import { cryptoRoutes } from './routes.js';
import { CryptoService } from './service.js';

export const cryptoBlock: BlockFactory = (ctx) => {
  const service = new CryptoService(ctx.components.of<CryptoProvider>('crypto'), ctx.policies, ctx.telemetry, join(ctx.homeDir, 'tmp', 'crypto'));
  return { name: 'crypto', routes: cryptoRoutes(service) };
};
