// A job as the API takes it (protobuf JSON, camelCase or snake_case), validated the way Dapr's
// scheduler does, and the times it fires: `schedule` (cron or @every), `dueTime` (RFC 3339, Go
// or ISO 8601 duration), `repeats`, `ttl`, `failurePolicy` (core/failure-policy.ts).
import { parseGoDuration } from '../../resources/duration.js';
import { parseIsoDuration } from '../actors/reminder-time.js';
import { DaprError, type ErrorKind } from '../errors.js';
import { DEFAULT_JOB_FAILURE_POLICY, failureRetryDelay, parseFailurePolicy, type FailurePolicy } from '../failure-policy.js';
import { parseJobCron } from './cron.js';


/** What the app scheduled, kept as given (GET answers it back). */
export interface JobSpec {
  name: string;
  schedule?: string;
  dueTime?: string;
  repeats?: number;
  ttl?: string;
  data?: unknown;
  failurePolicy?: FailurePolicy;
}

/** The stored job: its spec and bulwark's progress. */
export interface StoredJob {
  spec: JobSpec;
  createdAt: number;
  /** Epoch ms of the next trigger; retries move it too. */
  nextAt: number;
  /** Triggers delivered (or given up) so far. */
  count: number;
  /** Failed attempts of the current trigger. */
  attempt: number;
  expiresAt?: number;
  /** The sidecar delivering the current trigger, until when. */
  lease?: { owner: string; until: number };
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

function pointInTime(text: string, from: number): number | undefined {
  if (RFC3339.test(text)) {
    const t = Date.parse(text);
    return Number.isNaN(t) ? undefined : t;
  }
  const d = parseGoDuration(text) ?? parseIsoDuration(text);
  return d === undefined ? undefined : from + d;
}

type Obj = Record<string, unknown>;

export class JobErrors {
  constructor(private readonly metadata: Record<string, string>) {}
  make(kind: ErrorKind, message: string, cause?: unknown): DaprError {
    return new DaprError(kind, message, { metadata: this.metadata, ...(cause ? { cause } : {}) });
  }
  invalid(field: string, why: string): DaprError {
    return this.make('schedulerScheduleJobInvalid', `failed to schedule job due to: ${field}: ${why}`);
  }
}

function pick(b: Obj, ...names: string[]): unknown {
  for (const n of names) if (b[n] !== undefined && b[n] !== null) return b[n];
  return undefined;
}

export function parseJob(name: string, body: unknown, errors: JobErrors): JobSpec {
  if (body === undefined || body === null) throw errors.make('schedulerEmpty', 'Job is empty');
  if (typeof body !== 'object' || Array.isArray(body)) throw new DaprError('malformedRequest', 'failed deserializing HTTP body: expected a JSON object');
  const b = body as Obj;
  if (b.name !== undefined && b.name !== '') throw errors.make('schedulerJobName', 'Set the job name in the url only');
  if (!name) throw errors.make('schedulerJobNameEmpty', 'Name is empty');
  const spec: JobSpec = { name };
  const text = (field: string, ...names: string[]): string | undefined => {
    const v = pick(b, ...names);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new DaprError('malformedRequest', `failed deserializing HTTP body: ${field} must be a string`);
    return v || undefined;
  };
  const schedule = text('schedule', 'schedule');
  const dueTime = text('dueTime', 'dueTime', 'due_time');
  const ttl = text('ttl', 'ttl');
  if (schedule) spec.schedule = schedule;
  if (dueTime) spec.dueTime = dueTime;
  if (ttl) spec.ttl = ttl;
  if (!schedule && !dueTime) throw errors.make('schedulerScheduleEmpty', 'Schedule is empty');
  const repeats = pick(b, 'repeats');
  if (repeats !== undefined) {
    const n = typeof repeats === 'string' && /^\d+$/.test(repeats) ? Number(repeats) : repeats;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new DaprError('malformedRequest', 'failed deserializing HTTP body: repeats must be a non-negative integer');
    if (n > 0) spec.repeats = n;
  }
  if (b.data !== undefined) spec.data = b.data;
  const fp = parseFailurePolicy(pick(b, 'failurePolicy', 'failure_policy'), 'failurePolicy', (f, why) => errors.invalid(f, why));
  if (fp) spec.failurePolicy = fp;
  firstTrigger(spec, Date.now(), errors); // validates the times
  return spec;
}

/** First trigger and expiry, or throws naming the field. */
export function firstTrigger(spec: JobSpec, now: number, errors: JobErrors): { nextAt: number; expiresAt?: number } {
  let nextAt: number;
  if (spec.dueTime) {
    const t = pointInTime(spec.dueTime, now);
    if (t === undefined) throw errors.invalid('dueTime', `unsupported time/duration format ${JSON.stringify(spec.dueTime)}`);
    nextAt = t;
  }
  if (spec.schedule) {
    let cron;
    try {
      cron = parseJobCron(spec.schedule);
    } catch (err) {
      throw errors.invalid('schedule', (err as Error).message);
    }
    nextAt ??= cron.next(now);
  }
  let expiresAt: number | undefined;
  if (spec.ttl) {
    expiresAt = pointInTime(spec.ttl, now);
    if (expiresAt === undefined) throw errors.invalid('ttl', `unsupported time/duration format ${JSON.stringify(spec.ttl)}`);
  }
  return { nextAt: nextAt!, ...(expiresAt !== undefined ? { expiresAt } : {}) };
}

/** The trigger after one at `at` (counted in `count`), or undefined when the job is over. */
export function nextTrigger(job: StoredJob, at: number): number | undefined {
  const s = job.spec;
  const limit = s.repeats ?? (s.schedule ? undefined : 1);
  if (limit !== undefined && job.count >= limit) return undefined;
  if (!s.schedule) return undefined;
  const next = parseJobCron(s.schedule).next(at);
  if (!Number.isFinite(next)) return undefined;
  if (job.expiresAt !== undefined && next > job.expiresAt) return undefined;
  return next;
}

/** Interval and retries after a failed trigger; undefined = give up on this trigger. */
export function retryDelay(job: StoredJob): number | undefined {
  return failureRetryDelay(job.spec.failurePolicy ?? DEFAULT_JOB_FAILURE_POLICY, job.attempt);
}

/** GET's answer: protobuf JSON, data as a google.protobuf.Any holding a Value. */
export function jobJson(spec: JobSpec): Record<string, unknown> {
  return {
    name: spec.name,
    ...(spec.schedule ? { schedule: spec.schedule } : {}),
    ...(spec.repeats ? { repeats: spec.repeats } : {}),
    ...(spec.dueTime ? { dueTime: spec.dueTime } : {}),
    ...(spec.ttl ? { ttl: spec.ttl } : {}),
    ...(spec.data !== undefined ? { data: { '@type': 'type.googleapis.com/google.protobuf.Value', value: spec.data } } : {}),
    ...(spec.failurePolicy ? { failurePolicy: spec.failurePolicy } : {}),
  };
}
