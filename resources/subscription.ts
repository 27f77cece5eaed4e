import { Cursor, isObject, type Obj } from './decode.js';
import { parseGoDuration } from './duration.js';
import { stringifyValue } from './metadata-items.js';
import type { RouteRule, SubscriptionResource } from './types.js';

// v2alpha1 has `routes: {rules: [{match, path}], default}`; v1alpha1 has `route`, which becomes
// the default path.
export function decodeSubscription(c: Cursor, doc: Obj, name: string, apiVersion: string): SubscriptionResource {
  const spec = c.object(doc, 'spec') ?? c.at('spec').fail('is required');
  const s = c.at('spec');
  const rules: RouteRule[] = [];
  let defaultPath: string | undefined;
  if (apiVersion === 'dapr.io/v1alpha1') {
    defaultPath = s.string(spec, 'route', true);
  } else {
    const routes = s.object(spec, 'routes') ?? s.at('routes').fail('is required');
    const r = s.at('routes');
    r.array(routes, 'rules').forEach((raw, i) => {
      const at: Cursor = r.at('rules').at(i);
      if (!isObject(raw)) at.fail('must be a mapping with match and path');
      rules.push({ match: at.string(raw, 'match') ?? '', path: at.string(raw, 'path', true)! });
    });
    defaultPath = r.string(routes, 'default') || undefined;
    if (rules.length === 0 && !defaultPath) r.fail('needs at least one rule or a default path');
  }
  const metadata: Record<string, string> = {};
  const meta = s.object(spec, 'metadata');
  if (meta) for (const [k, v] of Object.entries(meta)) metadata[k] = stringifyValue(v) ?? '';
  const out: SubscriptionResource = {
    kind: 'Subscription',
    apiVersion,
    name,
    pubsubname: s.string(spec, 'pubsubname', true)!,
    topic: s.string(spec, 'topic', true)!,
    rules,
    metadata,
    scopes: c.strings(doc, 'scopes'),
    origin: { file: c.file, doc: c.doc },
  };
  if (defaultPath) out.defaultPath = defaultPath;
  const dlt = s.string(spec, 'deadLetterTopic');
  if (dlt) out.deadLetterTopic = dlt;
  const bulk = s.object(spec, 'bulkSubscribe');
  if (bulk) {
    const b = s.at('bulkSubscribe');
    const wait = b.get(bulk, 'maxAwaitDurationMs');
    out.bulkSubscribe = { enabled: b.bool(bulk, 'enabled') ?? false };
    const count = b.number(bulk, 'maxMessagesCount');
    if (count !== undefined) out.bulkSubscribe.maxMessagesCount = count;
    if (wait !== undefined) {
      const ms = typeof wait === 'number' ? wait : parseGoDuration(String(wait)) ?? Number(wait);
      if (!Number.isFinite(ms)) b.at('maxAwaitDurationMs').fail('must be a number of milliseconds');
      out.bulkSubscribe.maxAwaitDurationMs = ms;
    }
  }
  return out;
}
