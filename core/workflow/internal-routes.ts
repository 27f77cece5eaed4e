// The route peers forward workflow operations to (internal listener, behind mTLS and the
// inbound layers): the owner runs the operation; a sidecar that is not the owner answers 421.
import type { Route } from '../http.js';
import { MovedError, WorkflowError, type WorkflowEngine } from './engine.js';
import { WORKFLOW_INTERNAL_PREFIX, WORKFLOW_MOVED_HEADER } from './owners.js';

export function workflowInternalRoutes(engine: WorkflowEngine): Route[] {
  return [
    {
      method: 'POST',
      path: `${WORKFLOW_INTERNAL_PREFIX}/{op}`,
      group: 'workflows',
      handler: async (ex) => {
        const args = await ex.json<Record<string, unknown>>();
        try {
          ex.sendJson(200, (await engine.serve(ex.params.op!, args)) ?? null);
        } catch (err) {
          if (err instanceof MovedError) ex.sendRaw(421, err.message, 'text/plain', { [WORKFLOW_MOVED_HEADER]: '1' });
          else if (err instanceof WorkflowError) ex.sendJson(409, { reason: err.reason, message: err.message });
          else throw err;
        }
      },
    },
  ];
}
