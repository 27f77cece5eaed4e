// The gRPC listener (dapr-api-token, health, reflection, a task completion nobody holds) and the
// HTTP workflow management API (Dapr's bodies, statuses and error codes) on a real sidecar with
// a real SDK worker, both with DAPR_API_TOKEN set.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { credentials, loadPackageDefinition, Metadata, status as Code, type Client, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteActorStore } from '../helpers/actors.js';
import { freePort } from '../../cli/free-port.js';
import { ROOT, eventually, startProcess, startSidecar, stopProcess, tempDir, type Proc, type SidecarProc } from '../helpers/processes.js';

const TOKEN = 'wf-secret-token';
const require = createRequire(import.meta.url);
let sidecar: SidecarProc;
let app: Proc;
let grpcPort: number;

function grpcClient(protoDir: string, file: string, service: string): Client {
  const def = loadPackageDefinition(loadSync(file, { includeDirs: [protoDir], longs: String, enums: String, defaults: true, oneofs: true }));
  let cur: unknown = def;
  for (const p of service.split('.')) cur = (cur as GrpcObject)[p];
  return new (cur as ServiceClientConstructor)(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
}

function unary(c: Client, method: string, req: object, md = new Metadata()): Promise<any> {
  return new Promise((resolve, reject) => (c as any)[method](req, md, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res))));
}

function withToken(): Metadata {
  const md = new Metadata();
  md.set('dapr-api-token', TOKEN);
  return md;
}

async function http(method: string, path: string, body?: string, token = TOKEN): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(`${sidecar.url}${path}`, { method, headers: { 'dapr-api-token': token }, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

beforeAll(async () => {
  grpcPort = await freePort();
  const dir = tempDir('bulwark-wf-api-');
  sidecar = await startSidecar({
    appId: 'wf-api',
    resources: { 'store.yaml': sqliteActorStore(join(dir, 'wf.db')) },
    args: ['--dapr-grpc-port', String(grpcPort)],
    env: { DAPR_API_TOKEN: TOKEN },
  });
  await sidecar.waitFor(/gRPC API listening/);
  app = startProcess(process.execPath, [join(ROOT, 'test/fixtures/workflow-app.mjs')], { env: { DAPR_GRPC_PORT: String(grpcPort), DAPR_API_TOKEN: TOKEN } });
  await app.waitFor(/workflow worker started/);
});

afterAll(async () => {
  if (app) await stopProcess(app);
});

describe('gRPC listener', () => {
  const taskHubDir = () => join(dirname(require.resolve('@dapr/durabletask-js/package.json')), 'proto');

  it('refuses calls without the right dapr-api-token and accepts them with it', async () => {
    const c = grpcClient(taskHubDir(), 'orchestrator_service.proto', 'TaskHubSidecarService');
    await expect(unary(c, 'Hello', {})).rejects.toMatchObject({ code: Code.UNAUTHENTICATED });
    const wrong = new Metadata();
    wrong.set('dapr-api-token', 'nope');
    await expect(unary(c, 'Hello', {}, wrong)).rejects.toMatchObject({ code: Code.UNAUTHENTICATED });
    await expect(unary(c, 'Hello', {}, withToken())).resolves.toEqual({});
    c.close();
  });

  it('answers grpc.health.v1 and server reflection', async () => {
    const health = new (loadPackageDefinition(
      loadSync('health.proto', { includeDirs: [join(ROOT, 'test/fixtures/grpc')], defaults: true, enums: String }),
    ) as any).grpc.health.v1.Health(`127.0.0.1:${grpcPort}`, credentials.createInsecure()) as Client;
    expect(await unary(health, 'Check', { service: '' })).toEqual({ status: 'SERVING' });
    health.close();

    const reflDir = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto');
    const refl = grpcClient(reflDir, 'grpc/reflection/v1alpha/reflection.proto', 'grpc.reflection.v1alpha.ServerReflection');
    const services = await new Promise<string[]>((resolve, reject) => {
      const call = (refl as any).ServerReflectionInfo(withToken());
      call.on('data', (res: any) => {
        resolve(res.listServicesResponse.service.map((s: { name: string }) => s.name));
        call.end();
      });
      call.on('error', reject);
      call.write({ listServices: '' });
    });
    expect(services.join(',')).toMatch(/TaskHubSidecarService/);
    expect(services).toContain('grpc.health.v1.Health');
    refl.close();
  });

  it('refuses a task completion that no work item is outstanding for, and the instance goes on', async () => {
    const c = grpcClient(taskHubDir(), 'orchestrator_service.proto', 'TaskHubSidecarService');
    expect((await http('POST', '/v1.0/workflows/dapr/waitWorkflow/start?instanceID=held-1')).status).toBe(202);
    await eventually(async () => (await http('GET', '/v1.0/workflows/dapr/held-1')).json.runtimeStatus === 'RUNNING');
    await expect(unary(c, 'CompleteActivityTask', { instanceId: 'held-1', taskId: 42, result: { value: '1' } }, withToken())).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION });
    await expect(unary(c, 'CompleteOrchestratorTask', { instanceId: 'held-1', actions: [] }, withToken())).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION });
    expect((await http('POST', '/v1.0/workflows/dapr/held-1/raiseEvent/go', '"fine"')).status).toBe(202);
    await eventually(async () => (await http('GET', '/v1.0/workflows/dapr/held-1')).json.runtimeStatus === 'COMPLETED');
    expect((await http('GET', '/v1.0/workflows/dapr/held-1')).json.properties['dapr.workflow.output']).toBe('"fine"');
    c.close();
  });
});

describe('HTTP workflow API', () => {
  it('starts, reads, raises an event on, and completes an instance under every version', async () => {
    for (const v of ['v1.0', 'v1.0-beta1', 'v1.0-alpha1']) {
      const id = `http-${v.replace('.', '')}`;
      const started = await http('POST', `/${v}/workflows/dapr/waitWorkflow/start?instanceID=${id}`, '{"x":1}');
      expect(started.status).toBe(202);
      expect(started.json).toEqual({ instanceID: id });
      const got = await eventually(async () => {
        const g = await http('GET', `/${v}/workflows/dapr/${id}`);
        return g.json.runtimeStatus === 'RUNNING' ? g : undefined;
      });
      expect(got.json).toMatchObject({ instanceID: id, workflowName: 'waitWorkflow', properties: { 'dapr.workflow.input': '{"x":1}' } });
      const raised = await http('POST', `/${v}/workflows/dapr/${id}/raiseEvent/go`, '{"ok":true}');
      expect(raised.status).toBe(202);
      expect(raised.json).toEqual({});
      const done = await eventually(async () => {
        const g = await http('GET', `/${v}/workflows/dapr/${id}`);
        return g.json.runtimeStatus === 'COMPLETED' ? g : undefined;
      });
      expect(done.json.properties['dapr.workflow.output']).toBe('{"ok":true}');
    }
  });

  it('generates an instance id when none is given', async () => {
    const started = await http('POST', '/v1.0/workflows/dapr/timerWorkflow/start', '1');
    expect(started.status).toBe(202);
    expect(started.json.instanceID).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('pauses, resumes and terminates; purges a finished instance', async () => {
    expect((await http('POST', '/v1.0/workflows/dapr/waitWorkflow/start?instanceID=ctl-1')).status).toBe(202);
    await eventually(async () => (await http('GET', '/v1.0/workflows/dapr/ctl-1')).json.runtimeStatus === 'RUNNING');
    const paused = await http('POST', '/v1.0/workflows/dapr/ctl-1/pause');
    expect(paused.status).toBe(202);
    expect(paused.json).toEqual({});
    expect((await http('GET', '/v1.0/workflows/dapr/ctl-1')).json.runtimeStatus).toBe('SUSPENDED');
    expect((await http('POST', '/v1.0/workflows/dapr/ctl-1/resume')).status).toBe(202);
    expect((await http('GET', '/v1.0/workflows/dapr/ctl-1')).json.runtimeStatus).toBe('RUNNING');
    // Starting an id that is still running fails, as in Dapr.
    const again = await http('POST', '/v1.0/workflows/dapr/waitWorkflow/start?instanceID=ctl-1');
    expect(again.status).toBe(500);
    expect(again.json.errorCode).toBe('ERR_START_WORKFLOW');
    expect((await http('POST', '/v1.0/workflows/dapr/ctl-1/terminate')).status).toBe(202);
    expect((await http('GET', '/v1.0/workflows/dapr/ctl-1')).json.runtimeStatus).toBe('TERMINATED');
    expect((await http('POST', '/v1.0/workflows/dapr/ctl-1/purge')).status).toBe(202);
    const gone = await http('GET', '/v1.0/workflows/dapr/ctl-1');
    expect(gone.status).toBe(404);
    expect(gone.json.errorCode).toBe('ERR_INSTANCE_ID_NOT_FOUND');
  });

  it('answers bad input with Dapr codes', async () => {
    const cases: Array<[string, string, number, string]> = [
      ['GET', '/v1.0/workflows/dapr/nope', 404, 'ERR_INSTANCE_ID_NOT_FOUND'],
      ['POST', '/v1.0/workflows/dapr/nope/terminate', 404, 'ERR_INSTANCE_ID_NOT_FOUND'],
      ['POST', '/v1.0/workflows/dapr/nope/purge', 404, 'ERR_INSTANCE_ID_NOT_FOUND'],
      ['POST', '/v1.0/workflows/dapr/nope/raiseEvent/x', 404, 'ERR_INSTANCE_ID_NOT_FOUND'],
      ['POST', `/v1.0/workflows/dapr/waitWorkflow/start?instanceID=${'a'.repeat(65)}`, 400, 'ERR_INSTANCE_ID_TOO_LONG'],
      ['POST', '/v1.0/workflows/dapr/waitWorkflow/start?instanceID=bad!id', 400, 'ERR_INSTANCE_ID_INVALID'],
      ['POST', '/v1.0/workflows/dapr/ctl-x/raiseEvent', 400, 'ERR_WORKFLOW_EVENT_NAME_MISSING'],
    ];
    for (const [method, path, status, code] of cases) {
      const r = await http(method, path);
      expect(r.status, `${method} ${path}`).toBe(status);
      expect(r.json.errorCode, `${method} ${path}`).toBe(code);
    }
    const noToken = await http('GET', '/v1.0/workflows/dapr/nope', undefined, 'wrong');
    expect(noToken.status).toBe(401);
  });

  it('keeps an instance of a workflow no worker knows PENDING, with the worker error in its failure details', async () => {
    expect((await http('POST', '/v1.0/workflows/dapr/noSuchWorkflow/start?instanceID=unknown-wf')).status).toBe(202);
    const got = await eventually(async () => {
      const g = await http('GET', '/v1.0/workflows/dapr/unknown-wf');
      return g.json.properties['dapr.workflow.failure.error_type'] ? g : undefined;
    });
    expect(got.json.runtimeStatus).toBe('PENDING');
    expect(got.json.properties['dapr.workflow.failure.error_type']).toBe('OrchestratorNotRegisteredError');
    expect(got.json.properties['dapr.workflow.failure.error_message']).toMatch(/noSuchWorkflow/);
  });
});
