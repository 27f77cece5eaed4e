// The workflow building block: the engine over the actor state store, its HTTP management
// routes, and the durabletask TaskHubSidecarService that the gRPC listener serves.
import type { Block, BlockContext } from '../block.js';
import { DaprError } from '../errors.js';
import type { Route } from '../http.js';
import { openActorStateStore } from '../state/actor-state.js';
import { WorkflowEngine } from './engine.js';
import { workflowInternalRoutes } from './internal-routes.js';
import { WorkflowOwners } from './owners.js';
import { retentionPolicy } from './retention.js';
import { workflowRoutes } from './routes.js';
import { InstanceStore } from './store.js';
import { taskHubService } from './taskhub.js';

export const TASK_HUB_SERVICE = 'TaskHubSidecarService';

export async function workflowBlock(ctx: BlockContext): Promise<Block> {
  const state = openActorStateStore(ctx);
  if (!state) {
    const missing = async (): Promise<void> => {
      throw new DaprError('actorRuntimeNotFound', 'the state store is not configured to use the actor runtime. Have you set the - name: actorStateStore value: "true" in your state store component file?');
    };
    return {
      name: 'workflow',
      routes: workflowRoutes(new WorkflowEngine({ store: undefined as never, logger: ctx.logger, telemetry: ctx.telemetry })).map((r): Route => ({ ...r, handler: missing })),
    };
  }
  const store = new InstanceStore(state, ctx.appId, ctx.namespace ?? 'default');
  const owners = new WorkflowOwners(store.actorType, ctx.logger);
  const engine = new WorkflowEngine({ store, logger: ctx.logger, telemetry: ctx.telemetry, owners, retention: retentionPolicy(ctx.configuration.workflow) });
  return {
    name: 'workflow',
    routes: workflowRoutes(engine),
    internalRoutes: workflowInternalRoutes(engine),
    grpcServices: { [TASK_HUB_SERVICE]: taskHubService(engine, ctx.logger) },
    // Instances are loaded once placement says which ones this sidecar runs. A store that cannot
    // be read does not stop the sidecar; the instances resume at the next placement change or start.
    onPeersReady: (peers) =>
      void owners
        .attach(ctx.placement(peers.self), peers, () => void engine.rebalance())
        .then(() => engine.recover())
        .catch((err: Error) => ctx.logger.error(`workflow: could not load instances from the actor state store: ${err.message}`)),
    metadata: (out) => {
      out.workflows = { connectedWorkers: engine.connectedWorkers };
    },
    close: async () => engine.close(),
  };
}
