// Subscriptions from both sources, in one shape: declarative Subscription resources and the
// app's answer to GET /dapr/subscribe (v1 `route` or v2 `routes.rules` + `routes.default`).
// Rules are compiled here, so an expression we cannot evaluate fails at load, naming the
// subscription.
import { ResourceError } from '../../resources/resource-error.js';
import type { SubscriptionResource } from '../../resources/types.js';
import { compileCel, type CelProgram } from './cel.js';

export type SubscriptionType = 'DECLARATIVE' | 'PROGRAMMATIC';

export interface CompiledRule {
  match: string;
  path: string;
  /** Absent for a catch-all rule (empty match). */
  program: CelProgram | undefined;
}

export interface BulkOptions {
  enabled: boolean;
  maxMessagesCount: number;
  maxAwaitDurationMs: number;
}

export interface Subscription {
  /** How logs and errors name it: the resource name, or `pubsub/topic` for programmatic ones. */
  name: string;
  type: SubscriptionType;
  pubsubName: string;
  topic: string;
  rules: CompiledRule[];
  metadata: Record<string, string>;
  deadLetterTopic: string | undefined;
  bulk: BulkOptions | undefined;
}

export const DEFAULT_BULK_COUNT = 100;
export const DEFAULT_BULK_AWAIT_MS = 1000;

export class SubscriptionError extends Error {
  override readonly name = 'SubscriptionError';
}

function normalizePath(p: string): string {
  return p.startsWith('/') ? p : `/${p}`;
}

function compileRules(name: string, rules: ReadonlyArray<{ match: string; path: string }>, fallback: string | undefined): CompiledRule[] {
  const out: CompiledRule[] = rules.map((r, i) => {
    if (!r.path) throw new SubscriptionError(`subscription ${name}: rule ${i} has no path`);
    let program: CelProgram | undefined;
    if (r.match.trim() !== '') {
      try {
        program = compileCel(r.match);
      } catch (err) {
        throw new SubscriptionError(`subscription ${name}: rule ${i} match ${JSON.stringify(r.match)} cannot be used: ${(err as Error).message}`, { cause: err });
      }
    }
    return { match: r.match, path: normalizePath(r.path), program };
  });
  if (fallback) out.push({ match: '', path: normalizePath(fallback), program: undefined });
  if (out.length === 0) throw new SubscriptionError(`subscription ${name}: no route (set route, routes.rules or routes.default)`);
  return out;
}

function bulkOptions(b: { enabled?: boolean; maxMessagesCount?: number; maxAwaitDurationMs?: number } | undefined): BulkOptions | undefined {
  if (!b?.enabled) return undefined;
  return {
    enabled: true,
    maxMessagesCount: b.maxMessagesCount && b.maxMessagesCount > 0 ? b.maxMessagesCount : DEFAULT_BULK_COUNT,
    maxAwaitDurationMs: b.maxAwaitDurationMs && b.maxAwaitDurationMs > 0 ? b.maxAwaitDurationMs : DEFAULT_BULK_AWAIT_MS,
  };
}

/** A Subscription resource; a bad rule is a ResourceError naming the file and field. */
export function fromResource(r: SubscriptionResource): Subscription {
  let rules: CompiledRule[];
  try {
    rules = compileRules(r.name, r.rules, r.defaultPath);
  } catch (err) {
    const i = /rule (\d+)/.exec((err as Error).message)?.[1];
    const field = i !== undefined ? `spec.routes.rules[${i}].match` : 'spec.routes';
    throw new ResourceError(r.origin.file, r.origin.doc, field, (err as Error).message, { cause: err });
  }
  return {
    name: r.name,
    type: 'DECLARATIVE',
    pubsubName: r.pubsubname,
    topic: r.topic,
    rules,
    metadata: { ...r.metadata },
    deadLetterTopic: r.deadLetterTopic,
    bulk: bulkOptions(r.bulkSubscribe),
  };
}

/** Case-insensitive key lookup, as Go's JSON decoder matches struct fields. */
function get(obj: Record<string, unknown>, key: string): unknown {
  if (key in obj) return obj[key];
  const lower = key.toLowerCase();
  for (const k in obj) if (k.toLowerCase() === lower) return obj[k];
  return undefined;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Decodes the app's GET /dapr/subscribe answer. Items that cannot be used are reported through
 * `onError` (naming the subscription) and skipped; the others load.
 */
export function fromAppAnswer(body: unknown, onError: (err: SubscriptionError) => void): Subscription[] {
  if (!Array.isArray(body)) throw new SubscriptionError('GET /dapr/subscribe did not answer a JSON array');
  const out: Subscription[] = [];
  body.forEach((item, i) => {
    try {
      if (!isObj(item)) throw new SubscriptionError(`subscription #${i} from /dapr/subscribe is not an object`);
      const pubsubName = str(get(item, 'pubsubname'));
      const topic = str(get(item, 'topic'));
      const name = `${pubsubName || '?'}/${topic || '?'}`;
      if (!pubsubName) throw new SubscriptionError(`subscription ${name} from /dapr/subscribe has no pubsubname`);
      if (!topic) throw new SubscriptionError(`subscription ${name} from /dapr/subscribe has no topic`);
      const routes = get(item, 'routes');
      const rawRules = isObj(routes) && Array.isArray(get(routes, 'rules')) ? (get(routes, 'rules') as unknown[]) : [];
      const rules = rawRules.map((r) => (isObj(r) ? { match: str(get(r, 'match')), path: str(get(r, 'path')) } : { match: '', path: '' }));
      const fallback = (isObj(routes) ? str(get(routes, 'default')) : '') || str(get(item, 'route')) || undefined;
      const md = get(item, 'metadata');
      const metadata: Record<string, string> = {};
      if (isObj(md)) for (const [k, v] of Object.entries(md)) metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
      const bulk = get(item, 'bulkSubscribe');
      const bulkIn = isObj(bulk)
        ? { enabled: get(bulk, 'enabled') === true, maxMessagesCount: Number(get(bulk, 'maxMessagesCount') ?? 0), maxAwaitDurationMs: Number(get(bulk, 'maxAwaitDurationMs') ?? 0) }
        : undefined;
      out.push({
        name,
        type: 'PROGRAMMATIC',
        pubsubName,
        topic,
        rules: compileRules(name, rules, fallback),
        metadata,
        deadLetterTopic: str(get(item, 'deadLetterTopic')) || undefined,
        bulk: bulkOptions(bulkIn),
      });
    } catch (err) {
      onError(err instanceof SubscriptionError ? err : new SubscriptionError(String(err)));
    }
  });
  return out;
}

/** The rule whose match holds for `event`, first first; undefined when none does. */
export function findRoute(rules: readonly CompiledRule[], event: Record<string, unknown>): string | undefined {
  for (const r of rules) {
    if (!r.program || r.program.matches({ event })) return r.path;
  }
  return undefined;
}

/** The shape GET /v1.0/metadata lists. */
export function describeSubscription(s: Subscription): Record<string, unknown> {
  return {
    pubsubname: s.pubsubName,
    topic: s.topic,
    metadata: s.metadata,
    rules: s.rules.map((r) => (r.match ? { match: r.match, path: r.path } : { path: r.path })),
    deadLetterTopic: s.deadLetterTopic ?? '',
    type: s.type,
  };
}
