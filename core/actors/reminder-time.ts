// Reminder and timer times as Dapr accepts them: `dueTime` and `ttl` are a Go duration, an RFC 3339
// time or an ISO 8601 duration; `period` is a Go or ISO 8601 duration, optionally with
// repetitions `R<n>/P...`. A `ttl` duration counts from the first fire, as in Dapr.
import { DaprError } from '../errors.js';
import { parseGoDuration } from '../../resources/duration.js';

export interface Schedule {
  /** Epoch milliseconds of the first fire. */
  firstAt: number;
  /** Milliseconds between fires; undefined for a one-shot. */
  periodMs: number | undefined;
  /** Fires left, or -1 for no limit. */
  repetitions: number;
  /** Epoch milliseconds after which it never fires; undefined for none. */
  expiresAt: number | undefined;
}

const ISO = /^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** Milliseconds of an ISO 8601 duration (years as 365 days, months as 30), or undefined. */
export function parseIsoDuration(text: string): number | undefined {
  const m = ISO.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) return undefined;
  const n = (i: number): number => (m[i] ? Number(m[i]) : 0);
  return ((((n(1) * 365 + n(2) * 30 + n(3) * 7 + n(4)) * 24 + n(5)) * 60 + n(6)) * 60 + n(7)) * 1000;
}

function duration(text: string): number | undefined {
  return parseGoDuration(text) ?? parseIsoDuration(text);
}

/** Absolute epoch ms: an RFC 3339 time, or now + a duration. */
function pointInTime(text: string, from: number): number | undefined {
  if (RFC3339.test(text)) {
    const t = Date.parse(text);
    return Number.isNaN(t) ? undefined : t;
  }
  const d = duration(text);
  return d === undefined ? undefined : from + d;
}

function bad(field: string, value: string, kind: 'actorReminderCreate' | 'actorTimerCreate'): DaprError {
  // Dapr answers a malformed time with 400 ERR_MALFORMED_REQUEST naming the field.
  void kind;
  return new DaprError('malformedRequest', `error parsing ${field} ${JSON.stringify(value)}: unsupported time/duration format`);
}

export function parseSchedule(
  fields: { dueTime?: string | undefined; period?: string | undefined; ttl?: string | undefined },
  now: number,
  kind: 'actorReminderCreate' | 'actorTimerCreate',
): Schedule {
  const due = fields.dueTime ?? '';
  let firstAt = now;
  if (due !== '' && due !== '0') {
    const t = pointInTime(due, now);
    if (t === undefined) throw bad('dueTime', due, kind);
    firstAt = t;
  }
  let periodMs: number | undefined;
  let repetitions = -1;
  const period = fields.period ?? '';
  if (period !== '') {
    const rep = /^R(\d*)\/(P.*)$/.exec(period);
    if (rep) {
      repetitions = rep[1] === '' ? -1 : Number(rep[1]);
      periodMs = parseIsoDuration(rep[2]!);
    } else {
      periodMs = duration(period);
    }
    if (periodMs === undefined || periodMs < 0) throw bad('period', period, kind);
    if (periodMs === 0) periodMs = undefined;
  }
  if (periodMs === undefined && repetitions === -1) repetitions = 1;
  let expiresAt: number | undefined;
  const ttl = fields.ttl ?? '';
  if (ttl !== '') {
    expiresAt = pointInTime(ttl, firstAt);
    if (expiresAt === undefined) throw bad('ttl', ttl, kind);
    if (expiresAt < firstAt) throw new DaprError('malformedRequest', `ttl ${JSON.stringify(ttl)} ends before the first fire`);
  }
  if (repetitions === 0) throw new DaprError('malformedRequest', `period ${JSON.stringify(period)}: repetitions must be positive`);
  return { firstAt, periodMs, repetitions, expiresAt };
}

/** The fire after one at `at`, or undefined when the schedule is over. */
export function nextFire(s: Schedule, at: number, firesLeft: number): number | undefined {
  if (s.periodMs === undefined || firesLeft === 0) return undefined;
  const next = at + s.periodMs;
  if (s.expiresAt !== undefined && next > s.expiresAt) return undefined;
  return next;
}
