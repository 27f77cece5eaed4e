// Dapr's failure policy for scheduled triggers (common.v1.JobFailurePolicy), shared by jobs and
// actor reminders: `{"drop": {}}` gives up at once, `{"constant": {"interval": "3s",
// "maxRetries": 5}}` retries after `interval` (default 1s) up to `maxRetries` times (absent:
// forever). Jobs without one use Dapr's default, constant 1s with 3 retries.
import { parseGoDuration } from '../resources/duration.js';

export interface FailurePolicy {
  drop?: Record<string, never>;
  constant?: { interval?: string; maxRetries?: number };
}

export const DEFAULT_JOB_FAILURE_POLICY: FailurePolicy = { constant: { interval: '1s', maxRetries: 3 } };

type Obj = Record<string, unknown>;

const pick = (b: Obj, ...names: string[]): unknown => {
  for (const n of names) if (b[n] !== undefined && b[n] !== null) return b[n];
  return undefined;
};

/**
 * The policy in a request body (camelCase or snake_case inner names), undefined when it names
 * neither `drop` nor `constant`. `invalid(field, why)` builds the caller's error; `at` prefixes
 * the field paths it names.
 */
export function parseFailurePolicy(fp: unknown, at: string, invalid: (field: string, why: string) => Error): FailurePolicy | undefined {
  if (fp === undefined || fp === null) return undefined;
  if (typeof fp !== 'object' || Array.isArray(fp)) throw invalid(at, 'must be an object');
  const p = fp as Obj;
  if (p.drop !== undefined && p.drop !== null) return { drop: {} };
  if (p.constant === undefined || p.constant === null) return undefined;
  if (typeof p.constant !== 'object' || Array.isArray(p.constant)) throw invalid(`${at}.constant`, 'must be an object');
  const c = p.constant as Obj;
  const interval = c.interval;
  if (interval !== undefined && (typeof interval !== 'string' || parseGoDuration(interval) === undefined)) throw invalid(`${at}.constant.interval`, `invalid duration ${JSON.stringify(interval)}`);
  const max = pick(c, 'maxRetries', 'max_retries');
  const maxN = typeof max === 'string' && /^\d+$/.test(max) ? Number(max) : max;
  if (maxN !== undefined && (typeof maxN !== 'number' || !Number.isInteger(maxN) || maxN < 0)) throw invalid(`${at}.constant.maxRetries`, 'must be a non-negative integer');
  return { constant: { ...(interval ? { interval: interval as string } : {}), ...(maxN !== undefined ? { maxRetries: maxN as number } : {}) } };
}

/** Milliseconds before the next retry after `retriesDone` retries have failed too; undefined = give up. */
export function failureRetryDelay(fp: FailurePolicy, retriesDone: number): number | undefined {
  if (fp.drop || !fp.constant) return undefined;
  const max = fp.constant.maxRetries;
  if (max !== undefined && retriesDone >= max) return undefined;
  return fp.constant.interval ? parseGoDuration(fp.constant.interval)! : 1000;
}
