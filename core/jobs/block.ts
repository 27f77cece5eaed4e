// The jobs building block: schedule/get/delete, triggers delivered to the app's /job/{name}.
import type { BlockFactory } from '../block.js';
import { StateService } from '../state/service.js';
import { JobErrors } from './job.js';
import { jobsRoutes } from './routes.js';
import { JobsService } from './service.js';

export const jobsBlock: BlockFactory = (ctx) => {
  const store = new StateService(ctx).actorStore;
  const errors = new JobErrors({ appID: ctx.appId, namespace: ctx.namespace ?? '' });
  const logger = ctx.logger.child({ block: 'jobs' });
  if (!store) logger.debug('jobs: no state store has actorStateStore: "true"; the jobs API will answer errors');
  const service = new JobsService(store, ctx.appId, ctx.app, errors, logger, ctx.telemetry);
  return {
    name: 'jobs',
    routes: jobsRoutes(service),
    onAppReady: async () => service.start(),
    close: () => service.close(),
  };
};
