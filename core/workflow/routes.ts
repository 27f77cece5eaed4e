// Dapr's workflow management API, the same handlers under v1.0-alpha1, v1.0-beta1 and v1.0:
// start (202 {"instanceID"}), get (protobuf JSON with `properties`), and terminate, raiseEvent,
// pause, resume, purge (202 {}). The start name and the instance id share one parameter ({id}): the
// router names a path position once. The `{component}` segment is not checked, as in current Dapr.
import { randomUUID } from 'node:crypto';
import { DaprError, type ErrorKind } from '../errors.js';
import type { Exchange, Handler, Route } from '../http.js';
import { WorkflowError, type WorkflowEngine } from './engine.js';
import type { InstanceRecord } from './store.js';
import { checkInstanceId } from './validate.js';

const VERSIONS = ['v1.0-alpha1', 'v1.0-beta1', 'v1.0'];

function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

export function workflowResponse(rec: InstanceRecord): Record<string, unknown> {
  const properties: Record<string, string> = {};
  if (rec.input !== undefined) properties['dapr.workflow.input'] = rec.input;
  if (rec.customStatus !== undefined && rec.customStatus !== '') properties['dapr.workflow.custom_status'] = rec.customStatus;
  if (rec.failure) {
    properties['dapr.workflow.failure.error_type'] = rec.failure.errorType;
    properties['dapr.workflow.failure.error_message'] = rec.failure.errorMessage;
    if (rec.failure.stackTrace?.value) properties['dapr.workflow.failure.stack_trace'] = rec.failure.stackTrace.value;
  } else if (rec.output !== undefined) {
    properties['dapr.workflow.output'] = rec.output;
  }
  return {
    instanceID: rec.id,
    workflowName: rec.name,
    createdAt: rfc3339(rec.createdAt),
    lastUpdatedAt: rfc3339(rec.updatedAt),
    runtimeStatus: rec.status,
    properties,
  };
}

function instanceOf(ex: Exchange): string {
  const id = ex.params.id ?? '';
  if (!id) throw new DaprError('workflowInstanceIdMissing', 'no instance ID was provided');
  return id;
}

async function rawBody(ex: Exchange): Promise<string | undefined> {
  const b = await ex.body();
  return b.length > 0 ? b.toString('utf8') : undefined;
}

/** Engine failures as the operation's Dapr error; an unknown instance is 404. */
async function run(kind: ErrorKind, op: () => Promise<void>): Promise<void> {
  try {
    await op();
  } catch (err) {
    if (err instanceof DaprError) throw err;
    if (err instanceof WorkflowError && err.reason === 'notFound') throw new DaprError('workflowInstanceNotFound', err.message, { cause: err });
    throw new DaprError(kind, (err as Error).message, { cause: err });
  }
}

export function workflowRoutes(engine: WorkflowEngine): Route[] {
  const start: Handler = async (ex) => {
    const name = ex.params.id ?? '';
    if (!name) throw new DaprError('workflowNameMissing', 'workflow name is not configured');
    const id = ex.query.get('instanceID') || randomUUID();
    const bad = checkInstanceId(id);
    if (bad) throw bad;
    const input = await rawBody(ex);
    const traceparent = ex.span?.traceparent ?? ex.header('traceparent');
    await run('workflowStart', () => engine.measured('create_workflow', async () => void (await engine.start(name, id, input, undefined, undefined, traceparent))));
    ex.sendJson(202, { instanceID: id });
  };
  const get: Handler = async (ex) => {
    const id = instanceOf(ex);
    const rec = await engine.measured('get_workflow', async () => {
      const r = await engine.get(id);
      if (!r) throw new DaprError('workflowInstanceNotFound', `unable to get workflow instance '${id}': no such instance exists`);
      return r;
    });
    ex.sendJson(200, workflowResponse(rec));
  };
  const op =
    (kind: ErrorKind, fn: (id: string, ex: Exchange) => Promise<void>): Handler =>
    async (ex) => {
      const id = instanceOf(ex);
      await run(kind, () => fn(id, ex));
      ex.sendJson(202, {});
    };
  const terminate = op('workflowTerminate', async (id, ex) => engine.terminate(id, await rawBody(ex)));
  const pause = op('workflowPause', (id) => engine.suspend(id));
  const resume = op('workflowResume', (id) => engine.resume(id));
  const purge = op('workflowPurge', (id) => engine.measured('purge_workflow', async () => void (await engine.purge(id))));
  const raise: Handler = async (ex) => {
    const id = instanceOf(ex);
    const name = ex.params.eventName ?? '';
    if (!name) throw new DaprError('workflowEventNameMissing', 'missing workflow event name');
    const input = await rawBody(ex);
    await run('workflowRaiseEvent', () => engine.measured('add_event', () => engine.raiseEvent(id, name, input)));
    ex.sendJson(202, {});
  };
  const noEventName: Handler = async () => {
    throw new DaprError('workflowEventNameMissing', 'missing workflow event name');
  };
  const routes: Route[] = [];
  for (const v of VERSIONS) {
    const base = `/${v}/workflows/{component}`;
    routes.push(
      { method: 'POST', path: `${base}/{id}/start`, group: 'workflows', handler: start },
      { method: 'GET', path: `${base}/{id}`, group: 'workflows', handler: get },
      { method: 'POST', path: `${base}/{id}/terminate`, group: 'workflows', handler: terminate },
      { method: 'POST', path: `${base}/{id}/raiseEvent/{eventName}`, group: 'workflows', handler: raise },
      { method: 'POST', path: `${base}/{id}/raiseEvent`, group: 'workflows', handler: noEventName },
      { method: 'POST', path: `${base}/{id}/raiseEvent/`, group: 'workflows', handler: noEventName },
      { method: 'POST', path: `${base}/{id}/pause`, group: 'workflows', handler: pause },
      { method: 'POST', path: `${base}/{id}/resume`, group: 'workflows', handler: resume },
      { method: 'POST', path: `${base}/{id}/purge`, group: 'workflows', handler: purge },
    );
  }
  return routes;
}
