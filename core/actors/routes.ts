// The actor API (`/v1.0/actors/...`) and the internal route peers use to run a call on the
// owner. Wire shapes: ../shared/spec/http-api.md section 13.
import { DaprError } from '../errors.js';
import type { Exchange, Handler, Route } from '../http.js';
import { ERROR_RESPONSE_HEADER, callHeaders, type CallResult } from './host.js';
import { INTERNAL_PREFIX, MOVED_HEADER } from './placement.js';
import { parseFailurePolicy } from '../failure-policy.js';
import {
  checkName, checkReminderTarget, checkTarget, createReminder, createTimer, deleteReminder, deleteTimer, getActorState, invokeActor, requireState, transactActorState,
} from './operations.js';
import type { ActorsService } from './service.js';
import type { ActorStateOperation } from '../state/actor-state.js';

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date', 'server']);

export function actorRoutes(s: ActorsService): { routes: Route[]; internal: Route[] } {
  const r = (method: string, path: string, handler: Handler): Route => ({ method, path: `/v1.0/actors/{actorType}/{actorId}${path}`, group: 'actors', handler });
  const invoke = invokeHandler(s);
  const tx = transactionHandler(s);
  const createReminder = reminderCreateHandler(s);
  const createTimer = timerCreateHandler(s);
  const routes: Route[] = [
    ...['GET', 'POST', 'PUT', 'DELETE', 'PATCH'].map((m) => r(m, '/method/{method*}', invoke)),
    r('POST', '/state', tx),
    r('PUT', '/state', tx),
    r('GET', '/state/{key*}', stateGetHandler(s)),
    r('POST', '/reminders/{name}', createReminder),
    r('PUT', '/reminders/{name}', createReminder),
    r('GET', '/reminders/{name}', reminderGetHandler(s)),
    r('DELETE', '/reminders/{name}', reminderDeleteHandler(s)),
    r('POST', '/timers/{name}', createTimer),
    r('PUT', '/timers/{name}', createTimer),
    r('DELETE', '/timers/{name}', timerDeleteHandler(s)),
  ];
  const internal: Route[] = [{ method: 'PUT', path: `${INTERNAL_PREFIX}/{actorType}/{actorId}/method/{method*}`, group: 'actors', handler: internalHandler(s) }];
  return { routes, internal };
}

/** Type and id as the route gave them (unescaped), checked as Dapr checks names. */
function target(ex: Exchange): { type: string; id: string } {
  return checkTarget(ex.params.actorType!, ex.params.actorId!);
}

function send(ex: Exchange, r: CallResult): void {
  const res = ex.res;
  res.statusCode = r.status;
  for (const k in r.headers) {
    const v = r.headers[k];
    if (v !== undefined && !HOP.has(k) && k !== MOVED_HEADER) res.setHeader(k, v);
  }
  res.setHeader('content-length', r.body.length);
  res.end(r.body);
}

function invokeHandler(s: ActorsService): Handler {
  return async (ex) => {
    const { type, id } = target(ex);
    const method = ex.params.method!;
    const body = await ex.body();
    const span = ex.span;
    const parent = span ? { traceparent: span.traceparent, tracestate: span.tracestate } : { traceparent: ex.header('traceparent'), tracestate: ex.header('tracestate') };
    send(ex, await invokeActor(s, type, id, method, callHeaders(ex.req.headers), body, ex.rawQuery, parent));
  };
}

/** A peer routed a call here: run it if this host owns the actor, else say it moved. */
function internalHandler(s: ActorsService): Handler {
  return async (ex) => {
    const type = ex.params.actorType!;
    const id = ex.params.actorId!;
    const method = ex.params.method!;
    const body = await ex.body();
    if (!s.isHosted(type) || s.placement?.lookup(type, id) !== 'local') {
      ex.sendRaw(421, `actor ${type}/${id} is not hosted here`, 'text/plain', { [MOVED_HEADER]: '1' });
      return;
    }
    const headers = callHeaders(ex.req.headers);
    try {
      send(ex, await s.runLocal(type, id, method, { headers, body: body.length > 0 ? body : null, query: ex.rawQuery }));
    } catch (err) {
      const e = err instanceof DaprError ? err : new DaprError('actorInvokeMethod', `error invoke actor method: ${(err as Error).message}`, { cause: err });
      ex.sendError(e);
    }
  };
}


function stateGetHandler(s: ActorsService): Handler {
  return async (ex) => {
    const { type, id } = target(ex);
    const r = await getActorState(s, type, id, ex.params.key!);
    if (!r) return ex.sendEmpty(204);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.metadata ?? {})) headers[`metadata.${k}`] = v;
    ex.sendRaw(200, typeof r.data === 'string' ? r.data : Buffer.from(r.data), 'application/json', headers);
  };
}

function transactionHandler(s: ActorsService): Handler {
  return async (ex) => {
    const { type, id } = target(ex);
    requireState(s, 'actorStateTransaction');
    const body = await ex.json<unknown>();
    if (!Array.isArray(body)) throw new DaprError('malformedRequest', 'actor state transaction body must be a JSON array of operations');
    const ops: ActorStateOperation[] = body.map((raw, i) => {
      const o = raw as { operation?: unknown; request?: Record<string, unknown> };
      const req = o?.request;
      if (!req || typeof req !== 'object' || typeof req.key !== 'string' || req.key === '') throw new DaprError('malformedRequest', `operation ${i}: request.key is required`);
      const metadata = req.metadata && typeof req.metadata === 'object' ? Object.fromEntries(Object.entries(req.metadata).map(([k, v]) => [k, String(v)])) : undefined;
      const etag = typeof req.etag === 'string' && req.etag !== '' ? req.etag : undefined;
      const op = String(o.operation ?? '').toLowerCase();
      if (op === 'upsert') return { operation: 'upsert', key: req.key, value: JSON.stringify(req.value ?? null), ...(etag ? { etag } : {}), ...(metadata ? { metadata } : {}) };
      if (op === 'delete') return { operation: 'delete', key: req.key, ...(etag ? { etag } : {}), ...(metadata ? { metadata } : {}) };
      throw new DaprError('malformedRequest', `operation ${i}: operation type ${JSON.stringify(o.operation)} not supported (upsert, delete)`);
    });
    await transactActorState(s, type, id, ops);
    ex.sendEmpty(204);
  };
}

/** Go's JSON decoding: keys match case-insensitively. */
function field(o: Record<string, unknown>, name: string): unknown {
  if (name in o) return o[name];
  const lower = name.toLowerCase();
  for (const k in o) if (k.toLowerCase() === lower) return o[k];
  return undefined;
}

function stringField(o: Record<string, unknown>, name: string): string | undefined {
  const v = field(o, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new DaprError('malformedRequest', `${name} must be a string, got ${JSON.stringify(v)}`);
  return v;
}

async function scheduleBody(ex: Exchange): Promise<Record<string, unknown>> {
  const buf = await ex.body();
  if (buf.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new DaprError('malformedRequest', `failed deserializing HTTP body: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new DaprError('malformedRequest', 'body must be a JSON object');
  return v as Record<string, unknown>;
}

function reminderCreateHandler(s: ActorsService): Handler {
  return async (ex) => {
    const { type, id } = target(ex);
    const name = ex.params.name!;
    checkReminderTarget(s, type, name, 'actorReminderCreate');
    const b = await scheduleBody(ex);
    const overwrite = field(b, 'overwrite');
    if (overwrite !== undefined && typeof overwrite !== 'boolean') throw new DaprError('malformedRequest', 'overwrite must be a boolean');
    const ttl = stringField(b, 'ttl');
    // Go JSON: the key is matched case-insensitively, but it is `failure_policy`, underscore included.
    const failurePolicy = parseFailurePolicy(field(b, 'failure_policy'), 'failure_policy', (f, why) => new DaprError('malformedRequest', `${f}: ${why}`));
    await createReminder(s, type, id, name, {
      dueTime: stringField(b, 'dueTime') ?? '',
      period: stringField(b, 'period') ?? '',
      ...(ttl ? { ttl } : {}),
      data: field(b, 'data'),
      overwrite: overwrite !== false,
      ...(failurePolicy ? { failurePolicy } : {}),
    });
    ex.sendEmpty(204);
  };
}

function reminderGetHandler(s: ActorsService): Handler {
  return async (ex) => {
    const { type, id } = target(ex);
    const name = ex.params.name!;
    checkReminderTarget(s, type, name, 'actorReminderGet');
    let r;
    try {
      r = await s.reminders!.get(type, id, name);
    } catch (err) {
      throw new DaprError('actorReminderGet', `error getting actor reminder: ${(err as Error).message}`, { cause: err });
    }
    if (!r) throw new DaprError('actorReminderNotFound', `reminder ${name} not found for actor ${type}/${id}`);
    ex.sendJson(200, {
      actorID: r.actorID,
      actorType: r.actorType,
      ...(r.data !== undefined ? { data: r.data } : {}),
      ...(r.dueTime ? { dueTime: r.dueTime } : {}),
      ...(r.period ? { period: r.period } : {}),
      ...(r.expirationTime ? { ttl: r.expirationTime } : {}),
    });
  };
}

function reminderDeleteHandler(s: ActorsService): Handler {
  return async (ex) => {
    const { type, id } = target(ex);
    await deleteReminder(s, type, id, ex.params.name!);
    ex.sendEmpty(204);
  };
}

function timerCreateHandler(s: ActorsService): Handler {
  return async (ex) => {
    const { type, id } = target(ex);
    const name = ex.params.name!;
    checkName('timer name', name);
    if (!s.isHosted(type) || !s.host) throw new DaprError('actorTimerCreate', `error creating actor timer: actor type ${type} is not hosted by this app`);
    const b = await scheduleBody(ex);
    const ttl = stringField(b, 'ttl');
    createTimer(s, type, id, name, { dueTime: stringField(b, 'dueTime') ?? '', period: stringField(b, 'period') ?? '', ...(ttl ? { ttl } : {}), callback: stringField(b, 'callback') ?? '', data: field(b, 'data') });
    ex.sendEmpty(204);
  };
}

function timerDeleteHandler(s: ActorsService): Handler {
  return async (ex) => {
    const { type, id } = target(ex);
    deleteTimer(s, type, id, ex.params.name!);
    ex.sendEmpty(204);
  };
}

export { ERROR_RESPONSE_HEADER };
