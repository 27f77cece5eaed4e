import type { Route } from '../http.js';
import type { SecretsService } from './service.js';

export function secretsRoutes(secrets: SecretsService): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1.0/secrets/{store}/bulk',
      group: 'secrets',
      handler: async (ex) => {
        const all = await secrets.bulk(ex.params.store!, ex.queryMetadata());
        if (Object.keys(all).length === 0) return ex.sendEmpty(204);
        ex.sendJson(200, all);
      },
    },
    {
      method: 'GET',
      path: '/v1.0/secrets/{store}/{key}',
      group: 'secrets',
      handler: async (ex) => {
        const secret = await secrets.get(ex.params.store!, ex.params.key!, ex.queryMetadata());
        if (Object.keys(secret).length === 0) return ex.sendEmpty(204);
        ex.sendJson(200, secret);
      },
    },
  ];
}
