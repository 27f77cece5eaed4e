// Parses and validates one Resiliency resource (resources/ hands over `spec` undecoded). Field
// names match case-insensitively, as Go's encoding/json does; map keys (policy names, app ids,
// actor types, component names) are exact. Any error rejects the whole resource and names the
// file, the document, the policy and the field. Unknown fields are ignored, so new, optional
// policy kinds can be added beside timeouts/retries/circuitBreakers without breaking Dapr files.
import { Cursor, isObject, type Obj } from '../resources/decode.js';
import { parseGoDuration } from '../resources/duration.js';
import type { Origin, ResiliencyResource } from '../resources/types.js';
import { ExpressionError, TripExpression } from './expression.js';

export type RetryKind = 'constant' | 'exponential';

/** A set of status codes from `"429,500-599"`; empty set = every code matches. */
export class CodeSet {
  constructor(private readonly ranges: ReadonlyArray<readonly [number, number]>) {}

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  has(code: number): boolean {
    if (this.ranges.length === 0) return true;
    for (const [lo, hi] of this.ranges) if (code >= lo && code <= hi) return true;
    return false;
  }
}

export interface RetrySpec {
  name: string;
  policy: RetryKind;
  /** Constant wait between attempts. */
  durationMs: number;
  /** Cap of the exponential interval. */
  maxIntervalMs: number;
  /** Re-tries after the first attempt; negative = no count limit. */
  maxRetries: number;
  httpStatusCodes: CodeSet;
  grpcStatusCodes: CodeSet;
  /** Fixed in Dapr for `exponential`; kept here so built-in policies can differ. */
  initialIntervalMs: number;
  maxElapsedMs: number;
}

export interface BreakerSpec {
  name: string;
  maxRequests: number;
  intervalMs: number;
  timeoutMs: number;
  trip: TripExpression;
}

/** The policies one target (or one direction of a component) names. */
export interface PolicyRefs {
  timeout?: string;
  retry?: string;
  circuitBreaker?: string;
}

export interface AppTarget extends PolicyRefs {
  circuitBreakerCacheSize: number;
}

export type ActorBreakerScope = 'id' | 'type' | 'both';

export interface ActorTarget extends PolicyRefs {
  circuitBreakerScope?: ActorBreakerScope;
  circuitBreakerCacheSize: number;
}

export interface ComponentTarget {
  outbound?: PolicyRefs;
  inbound?: PolicyRefs;
}

export interface ResiliencySpec {
  name: string;
  namespace?: string;
  origin: Origin;
  timeouts: Map<string, number>;
  retries: Map<string, RetrySpec>;
  circuitBreakers: Map<string, BreakerSpec>;
  apps: Map<string, AppTarget>;
  actors: Map<string, ActorTarget>;
  components: Map<string, ComponentTarget>;
}

export const DEFAULT_TRIP = 'consecutiveFailures > 5';
export const DEFAULT_APP_CB_CACHE = 100;
export const DEFAULT_ACTOR_CB_CACHE = 5000;

/** Dapr's rule for every duration in a Resiliency: a bare integer is milliseconds. */
export function parsePolicyDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^-?\d+$/.test(t)) return Number(t);
  return parseGoDuration(t);
}

/** Parses `"429,500-599"` for `protocol`; throws a message on a bad item. */
export function parseCodes(text: string, min: number, max: number): CodeSet {
  const ranges: Array<[number, number]> = [];
  for (const item of text.split(',')) {
    if (item === '') continue;
    const parts = item.split('-');
    if (parts.length > 2) throw new Error(`invalid range ${JSON.stringify(item)}: more than one "-"`);
    const nums = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
    if (nums.some((n) => Number.isNaN(n))) throw new Error(`invalid code ${JSON.stringify(item)}: not an integer (no spaces allowed)`);
    const lo = nums[0]!;
    const hi = nums[1] ?? lo;
    if (hi < lo) throw new Error(`invalid range ${JSON.stringify(item)}: end is below start`);
    if (lo < min || hi > max) throw new Error(`invalid code ${JSON.stringify(item)}: outside ${min}-${max}`);
    ranges.push([lo, hi]);
  }
  return new CodeSet(ranges);
}

export function parseResiliency(r: ResiliencyResource, namespace?: string): ResiliencySpec {
  const c = new Cursor(r.origin.file, r.origin.doc, 'spec');
  const spec = r.spec;
  const policies = c.object(spec, 'policies');
  const pc = c.at('policies');
  const out: ResiliencySpec = {
    name: r.name,
    origin: r.origin,
    timeouts: new Map(),
    retries: new Map(),
    circuitBreakers: new Map(),
    apps: new Map(),
    actors: new Map(),
    components: new Map(),
    ...(namespace ? { namespace } : {}),
  };
  for (const [name, v] of entries(pc, policies, 'timeouts')) {
    out.timeouts.set(name, duration(pc.at('timeouts').at(name), v));
  }
  for (const [name, v] of entries(pc, policies, 'retries')) {
    out.retries.set(name, parseRetry(pc.at('retries').at(name), name, v));
  }
  for (const [name, v] of entries(pc, policies, 'circuitBreakers')) {
    out.circuitBreakers.set(name, parseBreaker(pc.at('circuitBreakers').at(name), name, v));
  }
  const targets = c.object(spec, 'targets');
  const tc = c.at('targets');
  for (const [key, v] of entries(tc, targets, 'apps')) {
    const ac = tc.at('apps').at(key);
    const o = mapping(ac, v);
    out.apps.set(key, { ...refs(ac, o), circuitBreakerCacheSize: cacheSize(ac, o, DEFAULT_APP_CB_CACHE) });
  }
  for (const [key, v] of entries(tc, targets, 'actors')) {
    const ac = tc.at('actors').at(key);
    const o = mapping(ac, v);
    const t: ActorTarget = { ...refs(ac, o), circuitBreakerCacheSize: cacheSize(ac, o, DEFAULT_ACTOR_CB_CACHE) };
    const scope = text(ac, o, 'circuitBreakerScope');
    if (scope !== undefined && scope !== '') {
      if (scope !== 'id' && scope !== 'type' && scope !== 'both') ac.at('circuitBreakerScope').fail(`must be id, type or both, got ${JSON.stringify(scope)}`);
      t.circuitBreakerScope = scope as ActorBreakerScope;
    }
    if (t.circuitBreaker && !t.circuitBreakerScope) ac.at('circuitBreakerScope').fail('actor circuit breakers must include scope (id, type or both)');
    out.actors.set(key, t);
  }
  for (const [key, v] of entries(tc, targets, 'components')) {
    const cc = tc.at('components').at(key);
    const o = mapping(cc, v);
    const t: ComponentTarget = {};
    const ob = cc.object(o, 'outbound');
    const ib = cc.object(o, 'inbound');
    if (ob) t.outbound = refs(cc.at('outbound'), ob);
    if (ib) t.inbound = refs(cc.at('inbound'), ib);
    out.components.set(key, t);
  }
  return out;
}

function entries(c: Cursor, parent: Obj | undefined, name: string): Array<[string, unknown]> {
  const m = c.object(parent, name);
  return m ? Object.entries(m) : [];
}

function mapping(c: Cursor, v: unknown): Obj {
  if (v === null || v === undefined) return {};
  if (!isObject(v)) return c.fail('must be a mapping');
  return v;
}

/** A string field; Go refuses a number where a string is declared, and so do we. */
function text(c: Cursor, o: Obj, name: string): string | undefined {
  const v = c.get(o, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') return c.at(name).fail(`must be a string (quote it), got ${typeof v} ${JSON.stringify(v)}`);
  return v;
}

function integer(c: Cursor, o: Obj, name: string): number | undefined {
  const v = c.get(o, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) return c.at(name).fail(`must be an integer, got ${typeof v} ${JSON.stringify(v)}`);
  return v;
}

function duration(c: Cursor, v: unknown): number {
  if (typeof v !== 'string') return c.fail(`must be a duration string (quote it), got ${typeof v} ${JSON.stringify(v)}`);
  const ms = parsePolicyDuration(v);
  if (ms === undefined) return c.fail(`invalid duration ${JSON.stringify(v)}: use milliseconds ("500") or Go syntax ("1.5s", "1m30s")`);
  return ms;
}

function optionalDuration(c: Cursor, o: Obj, name: string): number | undefined {
  const v = c.get(o, name);
  if (v === undefined || v === null) return undefined;
  return duration(c.at(name), v);
}

function parseRetry(c: Cursor, name: string, v: unknown): RetrySpec {
  const o = mapping(c, v);
  const kind = (text(c, o, 'policy') ?? '').toLowerCase();
  if (kind !== '' && kind !== 'constant' && kind !== 'exponential') {
    c.at('policy').fail(`invalid retry policy ${JSON.stringify(text(c, o, 'policy'))}: use constant or exponential`);
  }
  const matching = c.object(o, 'matching');
  const mc = c.at('matching');
  const codes = (field: string, min: number, max: number): CodeSet => {
    const s = matching ? text(mc, matching, field) : undefined;
    if (!s) return new CodeSet([]);
    try {
      return parseCodes(s, min, max);
    } catch (err) {
      return mc.at(field).fail((err as Error).message);
    }
  };
  return {
    name,
    policy: kind === 'exponential' ? 'exponential' : 'constant',
    durationMs: optionalDuration(c, o, 'duration') ?? 5000,
    maxIntervalMs: optionalDuration(c, o, 'maxInterval') ?? 60_000,
    maxRetries: integer(c, o, 'maxRetries') ?? -1,
    httpStatusCodes: codes('httpStatusCodes', 100, 599),
    grpcStatusCodes: codes('gRPCStatusCodes', 0, 16),
    initialIntervalMs: 500,
    maxElapsedMs: 15 * 60_000,
  };
}

function parseBreaker(c: Cursor, name: string, v: unknown): BreakerSpec {
  const o = mapping(c, v);
  const maxRequests = integer(c, o, 'maxRequests') ?? 0;
  if (maxRequests < 0) c.at('maxRequests').fail(`must not be negative, got ${maxRequests}`);
  const tripText = text(c, o, 'trip');
  let trip: TripExpression;
  try {
    trip = TripExpression.compile(tripText && tripText.trim() !== '' ? tripText : DEFAULT_TRIP);
  } catch (err) {
    return c.at('trip').fail(err instanceof ExpressionError ? err.message : String(err));
  }
  const timeoutMs = optionalDuration(c, o, 'timeout') ?? 0;
  return {
    name,
    maxRequests: maxRequests === 0 ? 1 : maxRequests,
    intervalMs: Math.max(0, optionalDuration(c, o, 'interval') ?? 0),
    timeoutMs: timeoutMs <= 0 ? 60_000 : timeoutMs,
    trip,
  };
}

function refs(c: Cursor, o: Obj): PolicyRefs {
  const out: PolicyRefs = {};
  const timeout = text(c, o, 'timeout');
  const retry = text(c, o, 'retry');
  const circuitBreaker = text(c, o, 'circuitBreaker');
  if (timeout) out.timeout = timeout;
  if (retry) out.retry = retry;
  if (circuitBreaker) out.circuitBreaker = circuitBreaker;
  return out;
}

function cacheSize(c: Cursor, o: Obj, dflt: number): number {
  const n = integer(c, o, 'circuitBreakerCacheSize');
  if (n !== undefined && n < 0) c.at('circuitBreakerCacheSize').fail(`must not be negative, got ${n}`);
  return n === undefined || n === 0 ? dflt : n;
}
