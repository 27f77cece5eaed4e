// Which policies apply to a call. Several Resiliency resources merge into one set of maps in load
// order (a later policy or target with the same name replaces the earlier one wholesale); names
// are resolved at call time, so a target may name a policy from another file. A named target
// uses exactly what it names; otherwise each policy kind falls back independently through
// Dapr's reserved default names, most specific level first.
import type { ActorTarget, AppTarget, BreakerSpec, PolicyRefs, ResiliencySpec, RetrySpec } from './spec.js';
import { CodeSet, DEFAULT_ACTOR_CB_CACHE, DEFAULT_APP_CB_CACHE } from './spec.js';

export type Direction = 'outbound' | 'inbound';

/** Resolved policies for one target (absent = no such policy). */
export interface Resolved {
  timeoutMs?: number;
  retry?: RetrySpec;
  breaker?: BreakerSpec;
  /** Whether a named target entry decided (defaults were not consulted). */
  named: boolean;
}

/** Dapr's component type names for default policies and metric labels, by our category prefix. */
const COMPONENT_TYPES: Record<string, string> = {
  state: 'Statestore', pubsub: 'Pubsub', bindings: 'Binding', secretstores: 'Secretstore',
  configuration: 'Configuration', lock: 'Lock', crypto: 'Crypto', conversation: 'Conversation',
};

/** `state.redis` -> `Statestore`; undefined for types Dapr has no policy level for. */
export function componentTypeName(type: string): string | undefined {
  return COMPONENT_TYPES[type.split('.')[0] ?? ''];
}

function builtIn(name: string, policy: RetrySpec['policy'], durationMs: number, maxRetries: number, maxIntervalMs = 60_000, maxElapsedMs = 15 * 60_000): RetrySpec {
  const none = new CodeSet([]);
  return { name, policy, durationMs, maxIntervalMs, maxRetries, httpStatusCodes: none, grpcStatusCodes: none, initialIntervalMs: 500, maxElapsedMs };
}

export const BUILT_IN_SERVICE_RETRIES = 'DaprBuiltInServiceRetries';

/** Dapr's own retries, present without any Resiliency and redefinable by name (§6). */
export const BUILT_IN_RETRIES: readonly RetrySpec[] = [
  builtIn(BUILT_IN_SERVICE_RETRIES, 'constant', 1000, 3),
  builtIn('DaprBuiltInActorRetries', 'constant', 1000, 3),
  builtIn('DaprBuiltInActorReminderRetries', 'exponential', 0, 0),
  builtIn('DaprBuiltInInitializationRetries', 'exponential', 0, 3, 1000, 10_000),
  builtIn('DaprBuiltInActorNotFoundRetries', 'constant', 1000, 5),
];
const PROTECTED = new Set(['DaprBuiltInActorNotFoundRetries']);
const BUILT_IN_NAMES = new Set(BUILT_IN_RETRIES.map((r) => r.name));

export class PolicySet {
  readonly timeouts = new Map<string, number>();
  readonly retries = new Map<string, RetrySpec>();
  readonly circuitBreakers = new Map<string, BreakerSpec>();
  readonly apps = new Map<string, AppTarget>();
  readonly actors = new Map<string, ActorTarget>();
  readonly components = new Map<string, { outbound?: PolicyRefs; inbound?: PolicyRefs }>();
  /** Name and namespace of the last resource merged (Dapr labels every metric with them). */
  name = '';
  namespace = '';
  readonly resources: string[] = [];

  /** Merges `specs` in load order over the built-in retries; `warn` hears about adjustments. */
  static merge(specs: readonly ResiliencySpec[], warn: (msg: string) => void = () => undefined): PolicySet {
    const set = new PolicySet();
    for (const r of BUILT_IN_RETRIES) set.retries.set(r.name, r);
    for (const s of specs) {
      for (const [k, v] of s.timeouts) set.timeouts.set(k, v);
      for (const [k, v] of s.retries) {
        if (PROTECTED.has(k)) {
          warn(`Resiliency ${s.name}: retry ${k} is a protected built-in policy; the definition is ignored`);
          continue;
        }
        if (BUILT_IN_NAMES.has(k) && v.maxRetries < 3) {
          warn(`Resiliency ${s.name}: built-in retry ${k} needs maxRetries of at least 3; using 3`);
          set.retries.set(k, { ...v, maxRetries: 3 });
          continue;
        }
        set.retries.set(k, v);
      }
      for (const [k, v] of s.circuitBreakers) set.circuitBreakers.set(k, v);
      for (const [k, v] of s.apps) set.apps.set(k, v);
      for (const [k, v] of s.actors) set.actors.set(k, v);
      for (const [k, v] of s.components) set.components.set(k, v);
      set.name = s.name;
      set.namespace = s.namespace ?? '';
      set.resources.push(s.name);
    }
    return set;
  }

  /** Component targets naming a breaker that exists nowhere (Dapr would crash on first use). */
  danglingBreakers(): string[] {
    const out: string[] = [];
    for (const [name, t] of this.components) {
      for (const d of ['outbound', 'inbound'] as const) {
        const cb = t[d]?.circuitBreaker;
        if (cb && !this.circuitBreakers.has(cb)) out.push(`components.${name}.${d}.circuitBreaker ${cb}`);
      }
    }
    return out;
  }

  /** Service invocation of `target` as written by the caller. */
  app(target: string): Resolved & { cacheSize: number } {
    const t = this.apps.get(target);
    if (t) return { ...this.resolve(t), named: true, cacheSize: t.circuitBreakerCacheSize };
    return { ...this.defaults(['App', '']), named: false, cacheSize: DEFAULT_APP_CB_CACHE };
  }

  /** Whether Dapr's built-in service retries stay on for `appId` (only a named app target disables them). */
  builtInServiceRetries(appId: string): boolean {
    return !this.apps.has(appId);
  }

  actor(actorType: string): Resolved & { scope: 'id' | 'type' | 'both'; cacheSize: number } {
    const t = this.actors.get(actorType);
    if (t) return { ...this.resolve(t), named: true, scope: t.circuitBreakerScope ?? 'type', cacheSize: t.circuitBreakerCacheSize };
    return { ...this.defaults(['Actor', '']), named: false, scope: 'type', cacheSize: DEFAULT_APP_CB_CACHE };
  }

  /** A component call; `typeName` is Dapr's (`Statestore`), undefined when unknown. */
  component(name: string, typeName: string | undefined, direction: Direction): Resolved {
    const t = this.components.get(name);
    if (t) {
      const refs = t[direction];
      return refs ? { ...this.resolve(refs), named: true } : { named: true };
    }
    const d = direction === 'outbound' ? 'Outbound' : 'Inbound';
    const levels = typeName ? [`${typeName}Component${d}`, `Component${d}`, 'Component', ''] : [`Component${d}`, 'Component', ''];
    return { ...this.defaults(levels), named: false };
  }

  private resolve(refs: PolicyRefs): Omit<Resolved, 'named'> {
    const out: Omit<Resolved, 'named'> = {};
    const timeout = refs.timeout !== undefined ? this.timeouts.get(refs.timeout) : undefined;
    const retry = refs.retry !== undefined ? this.retries.get(refs.retry) : undefined;
    const breaker = refs.circuitBreaker !== undefined ? this.circuitBreakers.get(refs.circuitBreaker) : undefined;
    if (timeout !== undefined) out.timeoutMs = timeout;
    if (retry) out.retry = retry;
    if (breaker) out.breaker = breaker;
    return out;
  }

  private defaults(levels: readonly string[]): Omit<Resolved, 'named'> {
    const out: Omit<Resolved, 'named'> = {};
    for (const l of levels) {
      const v = this.timeouts.get(`Default${l}TimeoutPolicy`);
      if (v !== undefined) {
        out.timeoutMs = v;
        break;
      }
    }
    for (const l of levels) {
      const v = this.retries.get(`Default${l}RetryPolicy`);
      if (v) {
        out.retry = v;
        break;
      }
    }
    for (const l of levels) {
      const v = this.circuitBreakers.get(`Default${l}CircuitBreakerPolicy`);
      if (v) {
        out.breaker = v;
        break;
      }
    }
    return out;
  }
}
