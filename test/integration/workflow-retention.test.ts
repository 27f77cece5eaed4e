// Configuration spec.workflow.stateRetentionPolicy on a real sidecar: finished instances are
// purged after the duration for their final status, and kept when a long one applies.
import { join } from 'node:path';
import { DaprWorkflowClient, WorkflowRuntimeStatus } from '@dapr/dapr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteActorStore } from '../helpers/actors.js';
import { freePort } from '../../cli/free-port.js';
import { ROOT, eventually, startProcess, startSidecar, stopProcess, tempDir, writeFolder, type Proc, type SidecarProc } from '../helpers/processes.js';

const dir = tempDir('bulwark-wf-retention-');
let sidecar: SidecarProc;
let app: Proc;
let client: DaprWorkflowClient;

const config = `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: retention
spec:
  workflow:
    stateRetentionPolicy:
      anyTerminal: "1s"
      terminated: "1h"
`;

async function status(id: string): Promise<number> {
  const res = await fetch(`${sidecar.url}/v1.0/workflows/dapr/${id}`);
  await res.text();
  return res.status;
}

beforeAll(async () => {
  const grpcPort = await freePort();
  const cfg = join(writeFolder({ 'config.yaml': config }), 'config.yaml');
  sidecar = await startSidecar({ appId: 'wf-retention', resources: { 'store.yaml': sqliteActorStore(join(dir, 'wf.db')) }, args: ['--dapr-grpc-port', String(grpcPort), '--config', cfg] });
  await sidecar.waitFor(/gRPC API listening/);
  app = startProcess(process.execPath, [join(ROOT, 'test/fixtures/workflow-app.mjs')], { env: { DAPR_GRPC_PORT: String(grpcPort) } });
  await app.waitFor(/workflow worker started/);
  client = new DaprWorkflowClient({ daprHost: '127.0.0.1', daprPort: String(grpcPort) });
});

afterAll(async () => {
  await client?.stop();
  if (app) await stopProcess(app);
});

describe('workflow state retention policy', () => {
  it('purges completed and failed instances after anyTerminal, keeps terminated ones under their longer duration', async () => {
    await client.scheduleNewWorkflow('waitWorkflow', null, 'kept-terminated');
    await client.waitForWorkflowStart('kept-terminated', false, 30);
    await client.terminateWorkflow('kept-terminated', 'stop');
    await client.scheduleNewWorkflow('chainWorkflow', { steps: 2 }, 'purged-completed');
    await client.scheduleNewWorkflow('failingWorkflow', undefined, 'purged-failed');
    expect((await client.waitForWorkflowCompletion('purged-completed', false, 60))?.runtimeStatus).toBe(WorkflowRuntimeStatus.COMPLETED);
    expect((await client.waitForWorkflowCompletion('purged-failed', false, 60))?.runtimeStatus).toBe(WorkflowRuntimeStatus.FAILED);
    await eventually(async () => (await status('purged-completed')) === 404 && (await status('purged-failed')) === 404, 30_000, 200);
    // Terminated before the other two ended, and still there: its own duration (1h) applies.
    expect(await status('kept-terminated')).toBe(200);
    expect((await client.getWorkflowState('kept-terminated', false))?.runtimeStatus).toBe(WorkflowRuntimeStatus.TERMINATED);
  }, 120_000);
});
