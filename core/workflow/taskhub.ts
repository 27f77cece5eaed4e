// durabletask's TaskHubSidecarService over the engine: the client calls (start, get, wait,
// raise, terminate, suspend, resume, purge, query) and the worker side (Hello, the GetWorkItems
// stream, Complete*Task). Messages are proto-loader plain objects.
import { randomUUID } from 'node:crypto';
import type { ServerUnaryCall, ServerWritableStream, sendUnaryData, UntypedServiceImplementation } from '@grpc/grpc-js';
// grpc-js's status codes alone: the package itself loads only when the gRPC port is first used.
import { Status as Code } from '@grpc/grpc-js/build/src/constants.js';
import type { Logger } from '../component.js';
import type { ActivityResponse, OrchestratorResponse, Worker, WorkItem, WorkflowEngine } from './engine.js';
import { WorkflowError } from './engine.js';
import { STATUS, STATUS_BY_NUMBER, fromTimestamp, isTerminal, sv, toTimestamp } from './history.js';
import type { InstanceRecord } from './store.js';
import { checkInstanceId } from './validate.js';

type Req = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

class GrpcError extends Error {
  constructor(
    readonly code: Code,
    message: string,
  ) {
    super(message);
  }
}

function toGrpc(err: unknown): { code: Code; details: string } {
  if (err instanceof GrpcError) return { code: err.code, details: err.message };
  if (err instanceof WorkflowError) {
    const code = err.reason === 'notFound' ? Code.NOT_FOUND : err.reason === 'exists' ? Code.ALREADY_EXISTS : err.reason === 'invalid' ? Code.INVALID_ARGUMENT : Code.FAILED_PRECONDITION;
    return { code, details: err.message };
  }
  return { code: Code.INTERNAL, details: (err as Error).message };
}

function unary<T>(fn: (req: Req, call: ServerUnaryCall<Req, T>) => Promise<T>) {
  return (call: ServerUnaryCall<Req, T>, cb: sendUnaryData<T>): void => {
    fn(call.request, call).then(
      (res) => cb(null, res),
      (err: unknown) => cb(toGrpc(err)),
    );
  };
}

export function stateOf(rec: InstanceRecord, withPayloads: boolean): Req {
  return {
    instanceId: rec.id,
    name: rec.name,
    orchestrationStatus: STATUS[rec.status],
    createdTimestamp: toTimestamp(rec.createdAt),
    lastUpdatedTimestamp: toTimestamp(rec.updatedAt),
    ...(rec.startAt ? { scheduledStartTimestamp: toTimestamp(rec.startAt) } : {}),
    ...(withPayloads ? { input: sv(rec.input), output: sv(rec.output) } : {}),
    customStatus: sv(rec.customStatus),
    failureDetails: rec.failure ?? null,
  };
}

function instanceResponse(rec: InstanceRecord | undefined, withPayloads: boolean): Req {
  return rec ? { exists: true, orchestrationState: stateOf(rec, withPayloads) } : { exists: false };
}

function abortOn(call: { on(ev: 'cancelled', fn: () => void): unknown; getDeadline(): Date | number }): AbortSignal {
  const ac = new AbortController();
  call.on('cancelled', () => ac.abort());
  const d = call.getDeadline();
  const ms = typeof d === 'number' ? d : d.getTime();
  if (Number.isFinite(ms)) setTimeout(() => ac.abort(), Math.max(0, ms - Date.now())).unref();
  return ac.signal;
}

function grpcId(id: unknown): string {
  const s = typeof id === 'string' ? id : '';
  if (!s) throw new GrpcError(Code.INVALID_ARGUMENT, 'instance id is required');
  return s;
}

/** PurgeInstances: one instance (and its children), or the finished top-level instances a filter selects. */
async function purgeInstances(engine: WorkflowEngine, req: Req): Promise<Req> {
  if (req.instanceId) {
    if (!(await engine.get(req.instanceId as string))) return { deletedInstanceCount: 0 };
    return { deletedInstanceCount: await engine.purge(req.instanceId as string) };
  }
  const f = req.purgeInstanceFilter as Req | undefined;
  if (!f) throw new GrpcError(Code.INVALID_ARGUMENT, 'an instance id or a filter is required');
  const from = fromTimestamp(f.createdTimeFrom) ?? 0;
  const to = fromTimestamp(f.createdTimeTo) ?? Infinity;
  const statuses = new Set(((f.runtimeStatus ?? []) as number[]).map((n) => STATUS_BY_NUMBER[n]));
  let n = 0;
  for (const r of await engine.list()) {
    if (r.parent || r.createdAt < from || r.createdAt > to || !isTerminal(r.status)) continue;
    if (statuses.size > 0 && !statuses.has(r.status)) continue;
    n += await engine.purge(r.id);
  }
  return { deletedInstanceCount: n };
}

let nextWorkerId = 1;

export function taskHubService(engine: WorkflowEngine, logger: Logger): UntypedServiceImplementation {
  return {
    Hello: unary(async () => ({})),
    StartInstance: unary(async (req, call) => {
      if (!req.name) throw new GrpcError(Code.INVALID_ARGUMENT, 'workflow name is required');
      const id = (req.instanceId as string) || randomUUID();
      const bad = checkInstanceId(id);
      if (bad) throw new GrpcError(Code.INVALID_ARGUMENT, bad.message);
      const tp = call.metadata.get('traceparent')[0];
      await engine.measured('create_workflow', () => engine.start(req.name as string, id, req.input?.value, fromTimestamp(req.scheduledStartTimestamp), undefined, tp === undefined ? undefined : String(tp)));
      return { instanceId: id };
    }),
    GetInstance: unary(async (req) => instanceResponse(await engine.measured('get_workflow', () => engine.get(grpcId(req.instanceId))), req.getInputsAndOutputs === true)),
    WaitForInstanceStart: unary(async (req, call) => {
      const id = grpcId(req.instanceId);
      const rec = await engine.waitFor(id, 'start', abortOn(call));
      return instanceResponse(rec, req.getInputsAndOutputs === true);
    }),
    WaitForInstanceCompletion: unary(async (req, call) => {
      const id = grpcId(req.instanceId);
      const rec = await engine.waitFor(id, 'completion', abortOn(call));
      return instanceResponse(rec, req.getInputsAndOutputs === true);
    }),
    RaiseEvent: unary(async (req) => {
      if (!req.name) throw new GrpcError(Code.INVALID_ARGUMENT, 'event name is required');
      const id = grpcId(req.instanceId);
      await engine.measured('add_event', () => engine.raiseEvent(id, req.name as string, req.input?.value));
      return {};
    }),
    TerminateInstance: unary(async (req) => {
      await engine.terminate(grpcId(req.instanceId), req.output?.value);
      return {};
    }),
    SuspendInstance: unary(async (req) => {
      await engine.suspend(grpcId(req.instanceId));
      return {};
    }),
    ResumeInstance: unary(async (req) => {
      await engine.resume(grpcId(req.instanceId));
      return {};
    }),
    PurgeInstances: unary((req) => engine.measured('purge_workflow', () => purgeInstances(engine, req))),
    QueryInstances: unary(async (req) => {
      const q = (req.query ?? {}) as Req;
      const from = fromTimestamp(q.createdTimeFrom) ?? 0;
      const to = fromTimestamp(q.createdTimeTo) ?? Infinity;
      const statuses = new Set(((q.runtimeStatus ?? []) as number[]).map((n) => STATUS_BY_NUMBER[n]));
      const prefix = (q.instanceIdPrefix?.value as string | undefined) ?? '';
      const all = (await engine.list()).filter((r) => r.createdAt >= from && r.createdAt <= to && r.id.startsWith(prefix) && (statuses.size === 0 || statuses.has(r.status))).sort((a, b) => (a.id < b.id ? -1 : 1));
      const start = q.continuationToken?.value ? Number(q.continuationToken.value) : 0;
      const max = (q.maxInstanceCount as number) > 0 ? (q.maxInstanceCount as number) : 100;
      const page = all.slice(start, start + max);
      return {
        orchestrationState: page.map((r) => stateOf(r, q.fetchInputsAndOutputs === true)),
        continuationToken: start + max < all.length ? sv(String(start + max)) : null,
      };
    }),
    GetWorkItems: (call: ServerWritableStream<Req, WorkItem>): void => {
      const worker: Worker = { id: nextWorkerId++, send: (item) => void call.write(item) };
      let gone = false;
      const leave = (): void => {
        if (gone) return;
        gone = true;
        engine.removeWorker(worker);
        logger.info(`workflow: worker ${worker.id} disconnected (${engine.connectedWorkers} connected)`);
      };
      call.on('cancelled', leave);
      call.on('close', leave);
      call.on('error', leave);
      engine.addWorker(worker);
      logger.info(`workflow: worker ${worker.id} connected (${engine.connectedWorkers} connected)`);
    },
    CompleteOrchestratorTask: unary(async (req) => {
      await engine.completeOrchestration(req as OrchestratorResponse);
      return {};
    }),
    CompleteActivityTask: unary(async (req) => {
      await engine.completeActivity(req as ActivityResponse);
      return {};
    }),
  };
}
