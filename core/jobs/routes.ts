// POST|GET|DELETE /v1.0/jobs/{name} (and the deprecated v1.0-alpha1 paths), protobuf-JSON bodies.
import { DaprError } from '../errors.js';
import type { Exchange, Route } from '../http.js';
import { jobJson, parseJob } from './job.js';
import type { JobsService } from './service.js';

async function bodyOf(ex: Exchange): Promise<unknown> {
  const raw = await ex.body();
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new DaprError('malformedRequest', `failed deserializing HTTP body: ${(err as Error).message}`, { cause: err });
  }
}

export function jobsRoutes(service: JobsService): Route[] {
  const routes: Route[] = [];
  for (const v of ['v1.0', 'v1.0-alpha1']) {
    routes.push(
      {
        method: 'POST',
        path: `/${v}/jobs/{name}`,
        group: 'jobs',
        handler: async (ex) => {
          const body = await bodyOf(ex);
          const spec = parseJob(ex.params.name ?? '', body, service.errors);
          const b = body as Record<string, unknown>;
          await service.schedule(spec, b.overwrite === true || b.overwrite === 'true');
          ex.sendEmpty(204);
        },
      },
      {
        method: 'GET',
        path: `/${v}/jobs/{name}`,
        group: 'jobs',
        handler: async (ex) => ex.sendJson(200, jobJson(await service.get(ex.params.name!))),
      },
      {
        method: 'DELETE',
        path: `/${v}/jobs/{name}`,
        group: 'jobs',
        handler: async (ex) => {
          await service.delete(ex.params.name!);
          ex.sendEmpty(204);
        },
      },
    );
  }
  return routes;
}
