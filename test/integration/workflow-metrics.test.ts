// Dapr's dapr_runtime_workflow_* metrics, scraped from a real sidecar's metrics port after an
// SDK worker ran workflows: counts follow what ran, latencies are histograms on Dapr's buckets,
// and no series carries an instance id.
import { join } from 'node:path';
import { DaprWorkflowClient, WorkflowRuntimeStatus } from '@dapr/dapr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS_MS } from '../../telemetry/metrics/settings.js';
import { readEntries } from '../../proxy/naming/local-registry.js';
import { sqliteActorStore } from '../helpers/actors.js';
import { freePort } from '../../cli/free-port.js';
import { ROOT, startProcess, startSidecar, stopProcess, tempDir, type Proc, type SidecarProc } from '../helpers/processes.js';

const dir = tempDir('bulwark-wf-metrics-');
const home = tempDir('bulwark-home-');
let sidecar: SidecarProc;
let app: Proc;
let client: DaprWorkflowClient;
let metricsPort = 0;

/** The value of the series `name` whose labels include `labels`, or undefined. */
function value(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const have = Object.fromEntries([...line.slice(name.length + 1, line.lastIndexOf('}')).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

async function http(method: string, path: string): Promise<number> {
  const res = await fetch(`${sidecar.url}${path}`, { method });
  await res.text();
  return res.status;
}

beforeAll(async () => {
  const grpcPort = await freePort();
  sidecar = await startSidecar({ appId: 'wf-metrics', home, resources: { 'store.yaml': sqliteActorStore(join(dir, 'wf.db')) }, args: ['--dapr-grpc-port', String(grpcPort)] });
  await sidecar.waitFor(/gRPC API listening/);
  app = startProcess(process.execPath, [join(ROOT, 'test/fixtures/workflow-app.mjs')], { env: { DAPR_GRPC_PORT: String(grpcPort) } });
  await app.waitFor(/workflow worker started/);
  client = new DaprWorkflowClient({ daprHost: '127.0.0.1', daprPort: String(grpcPort) });
  metricsPort = readEntries(home).find((e) => e.appId === 'wf-metrics')?.metricsPort ?? 0;
  expect(metricsPort).toBeGreaterThan(0);
});

afterAll(async () => {
  await client?.stop();
  if (app) await stopProcess(app);
});

describe('dapr_runtime_workflow_* metrics', () => {
  it('counts operations, executions and activities by name, with latency histograms and no instance ids', async () => {
    for (const id of ['metric-chain-1', 'metric-chain-2']) await client.scheduleNewWorkflow('chainWorkflow', { steps: 3 }, id);
    for (const id of ['metric-chain-1', 'metric-chain-2']) expect((await client.waitForWorkflowCompletion(id, true, 60))?.runtimeStatus).toBe(WorkflowRuntimeStatus.COMPLETED);
    const failed = await client.scheduleNewWorkflow('failingWorkflow', undefined, 'metric-fail-1');
    expect((await client.waitForWorkflowCompletion(failed, true, 60))?.runtimeStatus).toBe(WorkflowRuntimeStatus.FAILED);
    expect(await http('POST', '/v1.0/workflows/dapr/waitWorkflow/start?instanceID=metric-wait-1')).toBe(202);
    await client.waitForWorkflowStart('metric-wait-1', false, 30);
    expect(await http('POST', '/v1.0/workflows/dapr/metric-wait-1/raiseEvent/other')).toBe(202);
    expect(await http('POST', '/v1.0/workflows/dapr/metric-wait-1/terminate')).toBe(202);
    await client.waitForWorkflowCompletion('metric-wait-1', false, 30);
    expect(await http('GET', '/v1.0/workflows/dapr/metric-chain-1')).toBe(200);
    expect(await http('GET', '/v1.0/workflows/dapr/no-such-instance')).toBe(404);
    expect(await http('POST', '/v1.0/workflows/dapr/metric-chain-2/purge')).toBe(202);

    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/`)).text();
    const base = { app_id: 'wf-metrics', namespace: '' };
    const op = (operation: string, status: string): number | undefined => value(text, 'dapr_runtime_workflow_operation_count', { ...base, operation, status });
    expect(op('create_workflow', 'success')).toBe(4);
    expect(op('add_event', 'success')).toBe(1);
    expect(op('purge_workflow', 'success')).toBe(1);
    expect(op('get_workflow', 'success')).toBeGreaterThanOrEqual(1);
    expect(op('get_workflow', 'failed')).toBe(1);
    expect(value(text, 'dapr_runtime_workflow_operation_latency_count', { ...base, operation: 'create_workflow', status: 'success' })).toBe(4);

    const exec = (workflow_name: string, status: string): number | undefined => value(text, 'dapr_runtime_workflow_execution_count', { ...base, workflow_name, status });
    expect(exec('chainWorkflow', 'success')).toBe(2);
    expect(exec('failingWorkflow', 'failed')).toBe(1);
    expect(exec('waitWorkflow', 'terminated')).toBe(1);
    expect(value(text, 'dapr_runtime_workflow_execution_latency_count', { ...base, workflow_name: 'chainWorkflow', status: 'success' })).toBe(2);
    expect(value(text, 'dapr_runtime_workflow_scheduling_latency_count', { ...base, workflow_name: 'chainWorkflow' })).toBe(2);

    const act = (activity_name: string, status: string): number | undefined => value(text, 'dapr_runtime_workflow_activity_execution_count', { ...base, activity_name, status });
    expect(act('step', 'success')).toBe(6);
    expect(act('failing', 'failed')).toBe(1);
    expect(value(text, 'dapr_runtime_workflow_activity_execution_latency_count', { ...base, activity_name: 'step', status: 'success' })).toBe(6);

    // Histograms on Dapr's latency buckets; counters and histograms as Prometheus types.
    const les = text
      .split('\n')
      .filter((l) => l.startsWith('dapr_runtime_workflow_activity_execution_latency_bucket{') && l.includes('activity_name="step"') && l.includes('status="success"'))
      .map((l) => /le="([^"]+)"/.exec(l)?.[1]);
    expect(les).toEqual([...LATENCY_BUCKETS_MS.map(String), '+Inf']);
    expect(text).toMatch(/^# TYPE dapr_runtime_workflow_operation_count counter$/m);
    expect(text).toMatch(/^# TYPE dapr_runtime_workflow_execution_latency histogram$/m);
    // Bounded: names only, never instance ids.
    expect(text.split('\n').filter((l) => l.startsWith('dapr_runtime_workflow_') && /metric-(chain|fail|wait)/.test(l))).toEqual([]);
  }, 120_000);
});
