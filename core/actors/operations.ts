// The actor API's operations on decoded input, shared by the HTTP routes (routes.ts) and the
// gRPC rpcs (grpc.ts): name checks, hosting checks, and Dapr's errors for each step.
import { DaprError } from '../errors.js';
import type { FailurePolicy } from '../failure-policy.js';
import type { TraceHeaders } from '../telemetry.js';
import type { ActorStateOperation } from '../state/actor-state.js';
import { ETagError, type GetResponse } from '../state/component.js';
import type { CallResult } from './host.js';
import { parseSchedule } from './reminder-time.js';
import type { ActorsService } from './service.js';

const RESERVED_PREFIX = 'dapr.internal.';

export function checkName(what: string, v: string): void {
  // eslint-disable-next-line no-control-regex
  if (v === '' || v === '.' || v === '..' || /[/\\#?\u0000-\u001f\u007f]/.test(v)) {
    throw new DaprError('badRequest', `invalid ${what} ${JSON.stringify(v)}: it must not be empty, '.' or '..', nor contain '/', '\\', '#', '?' or control characters`);
  }
}

/** Type and id checked as Dapr checks names; internal types are refused. */
export function checkTarget(type: string, id: string): { type: string; id: string } {
  checkName('actor type', type);
  checkName('actor id', id);
  if (type.startsWith(RESERVED_PREFIX)) throw new DaprError('actorTypeReserved', `actor type ${type} is reserved for Dapr's internal use`);
  return { type, id };
}

export function requireState(s: ActorsService, kind: 'actorStateGet' | 'actorStateTransaction' | 'actorReminderCreate' | 'actorReminderGet' | 'actorReminderDelete') {
  if (!s.state) {
    throw new DaprError(kind, 'actors: no state store is configured for actors; set metadata actorStateStore: "true" on one state store component');
  }
  return s.state;
}

/** A method call on an actor, wherever it lives; the caller's claimed identity is replaced by this sidecar's. */
export async function invokeActor(
  s: ActorsService, type: string, id: string, method: string, headers: Record<string, string | string[]>, body: Buffer, query: string, parent: TraceHeaders | undefined,
): Promise<CallResult> {
  for (const seg of method.split('/')) checkName('method', seg);
  headers['dapr-caller-app-id'] = s.appId;
  delete headers['dapr-caller-namespace'];
  return s.invoke(type, id, method, { headers, body: body.length > 0 ? body : null, query }, parent);
}

export async function getActorState(s: ActorsService, type: string, id: string, key: string): Promise<GetResponse | undefined> {
  const state = requireState(s, 'actorStateGet');
  try {
    return await state.get(type, id, key);
  } catch (err) {
    throw new DaprError('actorStateGet', `error getting actor state: ${(err as Error).message}`, { cause: err });
  }
}

/** All or nothing, and only for an actor active on this host. */
export async function transactActorState(s: ActorsService, type: string, id: string, ops: readonly ActorStateOperation[]): Promise<void> {
  const state = requireState(s, 'actorStateTransaction');
  if (!s.host?.isActive(type, id)) throw new DaprError('actorInstanceMissing', `actor instance is missing: ${type}/${id} is not active on this host`);
  try {
    await state.transact(type, id, ops);
  } catch (err) {
    const why = err instanceof ETagError ? `possible etag mismatch: ${err.message}` : (err as Error).message;
    throw new DaprError('actorStateTransaction', `error saving actor transaction state: ${why}`, { cause: err });
  }
}

export function checkReminderTarget(s: ActorsService, type: string, name: string, kind: 'actorReminderCreate' | 'actorReminderGet' | 'actorReminderDelete'): void {
  checkName('reminder name', name);
  if (!s.isHosted(type)) throw new DaprError('actorReminderNonHosted', `operations on reminders are only possible on actor types hosted by this app: ${type}`);
  if (!s.reminders) requireState(s, kind);
}

export interface ScheduleInput {
  dueTime: string;
  period: string;
  ttl?: string;
  /** Any JSON value, handed back to the actor when it fires. */
  data: unknown;
}

export async function createReminder(s: ActorsService, type: string, id: string, name: string, r: ScheduleInput & { overwrite: boolean; failurePolicy?: FailurePolicy }): Promise<void> {
  checkReminderTarget(s, type, name, 'actorReminderCreate');
  const schedule = parseSchedule({ dueTime: r.dueTime, period: r.period, ttl: r.ttl }, Date.now(), 'actorReminderCreate');
  try {
    await s.reminders!.create(
      {
        actorID: id, actorType: type, name, dueTime: r.dueTime, period: r.period,
        ...(r.ttl ? { ttl: r.ttl } : {}), ...(r.data !== undefined ? { data: r.data } : {}), ...(r.failurePolicy ? { failurePolicy: r.failurePolicy } : {}),
      },
      schedule,
      r.overwrite,
    );
  } catch (err) {
    if (err instanceof DaprError) throw err;
    throw new DaprError('actorReminderCreate', `error creating actor reminder: ${(err as Error).message}`, { cause: err });
  }
}

export async function deleteReminder(s: ActorsService, type: string, id: string, name: string): Promise<void> {
  checkReminderTarget(s, type, name, 'actorReminderDelete');
  try {
    await s.reminders!.delete(type, id, name);
  } catch (err) {
    throw new DaprError('actorReminderDelete', `error deleting actor reminder: ${(err as Error).message}`, { cause: err });
  }
}

/** Timers live in memory on the actor's host: the actor must be placed here. */
export function createTimer(s: ActorsService, type: string, id: string, name: string, t: ScheduleInput & { callback: string }): void {
  checkName('timer name', name);
  if (!s.isHosted(type) || !s.host) throw new DaprError('actorTimerCreate', `error creating actor timer: actor type ${type} is not hosted by this app`);
  const schedule = parseSchedule({ dueTime: t.dueTime, period: t.period, ttl: t.ttl }, Date.now(), 'actorTimerCreate');
  if (s.placement?.lookup(type, id) !== 'local') throw new DaprError('actorTimerCreate', `error creating actor timer: actor ${type}/${id} is not hosted on this sidecar`);
  const fireBody = JSON.stringify({ callback: t.callback, dueTime: t.dueTime, period: t.period, ...(t.data !== undefined ? { data: t.data } : {}) });
  s.host.createTimer(type, id, name, schedule, fireBody);
}

export function deleteTimer(s: ActorsService, type: string, id: string, name: string): void {
  checkName('timer name', name);
  s.host?.deleteTimer(type, id, name);
}
