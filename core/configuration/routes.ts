// Configuration get, subscribe and unsubscribe, each under v1.0 and v1.0-alpha1.
import type { Route } from '../http.js';
import { wireItems, type ConfigurationService } from './service.js';

export function configurationRoutes(service: ConfigurationService): Route[] {
  const routes: Route[] = [];
  for (const v of ['v1.0', 'v1.0-alpha1']) {
    routes.push(
      {
        method: 'GET',
        path: `/${v}/configuration/{store}`,
        group: 'configuration',
        handler: async (ex) => {
          const items = await service.get(ex.params.store!, ex.query.getAll('key'), ex.queryMetadata());
          if (Object.keys(items).length === 0) return ex.sendEmpty(204);
          ex.sendJson(200, wireItems(items));
        },
      },
      {
        method: 'GET',
        path: `/${v}/configuration/{store}/subscribe`,
        group: 'configuration',
        handler: async (ex) => {
          const id = await service.subscribe(ex.params.store!, ex.query.getAll('key'), ex.queryMetadata());
          ex.sendJson(200, { id });
        },
      },
      {
        method: 'GET',
        path: `/${v}/configuration/{store}/{id}/unsubscribe`,
        group: 'configuration',
        handler: async (ex) => {
          const failure = await service.unsubscribe(ex.params.store!, ex.params.id!);
          // Dapr's own body: `ok` is omitted when false, and there is no errorCode.
          if (failure) return ex.sendJson(500, { message: failure });
          ex.sendJson(200, { ok: true });
        },
      },
    );
  }
  return routes;
}
