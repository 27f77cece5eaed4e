// The PolicyProvider the sidecar hands to every block. It holds one immutable snapshot (merged
// policies + the breakers created from them); a reload builds a new snapshot and swaps the
// reference, so calls already running keep the policies and breakers they started with.
// Handles returned to blocks resolve against the current snapshot on every run, so a block that
// keeps a handle (a pub/sub subscription) still sees a reload.
import type { Logger } from '../core/component.js';
import type { CallPolicy, PolicyProvider, RunOptions } from '../core/policy.js';
import { Breaker, type BreakerState } from './breaker.js';
import { PolicyRunner, type RunHooks } from './build.js';
import { BUILT_IN_SERVICE_RETRIES, componentTypeName, PolicySet, type Direction, type Resolved } from './lookup.js';
import type { MetricTarget, ResiliencyMetrics, TargetCounts } from './metrics.js';
import type { ResiliencySpec } from './spec.js';

export interface ProviderOptions {
  appId: string;
  logger: Logger;
  metrics: ResiliencyMetrics;
  /** The Dapr type (`state.redis`) of a loaded component, for default policies and labels. */
  componentType(name: string): string | undefined;
}

/** `actor`: before the turn lock (retry, breaker); `turn`: once the call holds the turn (timeout). */
type TargetKind = 'app' | 'actor' | 'turn' | 'out' | 'in';

/** What one target resolves to in one snapshot, computed on first use. */
class TargetInfo implements RunHooks {
  readonly isEmpty: boolean;
  /** The runner every call shares when the target has no breaker (runners hold no per-call state). */
  readonly shared: PolicyRunner | undefined;
  readonly counts: TargetCounts;
  /** App and actor breakers, bounded per target as Dapr bounds them. */
  breakers: BreakerCache | undefined = undefined;

  constructor(
    readonly resolved: Resolved,
    readonly metric: MetricTarget,
    private readonly metrics: ResiliencyMetrics,
  ) {
    this.isEmpty = resolved.timeoutMs === undefined && resolved.retry === undefined && resolved.breaker === undefined;
    this.shared = this.isEmpty || resolved.breaker ? undefined : new PolicyRunner(resolved.timeoutMs, resolved.retry, undefined, this);
    this.counts = metrics.counts(metric);
  }

  activated(kind: 'timeout' | 'retry'): void {
    this.metrics.recordActivation(this.metric, kind, '');
  }
}

/** A small LRU of breakers (Dapr bounds app and actor breakers per target). */
class BreakerCache {
  private readonly map = new Map<string, Breaker>();
  constructor(private readonly size: number) {}

  get(key: string): Breaker | undefined {
    const b = this.map.get(key);
    if (b) {
      this.map.delete(key);
      this.map.set(key, b);
    }
    return b;
  }

  add(key: string, b: Breaker): void {
    if (this.map.size >= this.size) this.map.delete(this.map.keys().next().value!);
    this.map.set(key, b);
  }
}

class Snapshot {
  private readonly targets: Record<TargetKind, Map<string, TargetInfo>> = { app: new Map(), actor: new Map(), turn: new Map(), out: new Map(), in: new Map() };
  private readonly componentBreakers = new Map<string, Breaker>();

  /** No Resiliency resource at all: every call goes straight through. */
  private readonly isEmpty: boolean;

  constructor(readonly set: PolicySet, private readonly opts: ProviderOptions) {
    this.isEmpty = set.resources.length === 0;
  }

  runner(kind: TargetKind, key: string, sub: string | undefined): PolicyRunner | undefined {
    if (this.isEmpty) return undefined;
    const info = this.target(kind, key);
    if (info.isEmpty) return undefined;
    const r = info.resolved;
    const c = info.counts;
    if (r.timeoutMs !== undefined) c.timeout++;
    if (r.retry) c.retry++;
    if (info.shared) return info.shared;
    const breaker = this.breaker(kind, key, sub, info);
    const state = breaker.current();
    c.breaker[state]++;
    this.opts.metrics.showBreakerState(c, state);
    return new PolicyRunner(r.timeoutMs, r.retry, breaker, info);
  }

  private builtInService: PolicyRunner | undefined = undefined;

  /** DaprBuiltInServiceRetries for calls to `appId`, off when a named app target exists (no metrics). */
  builtInServiceRetries(appId: string): PolicyRunner | undefined {
    if (!this.set.builtInServiceRetries(appId)) return undefined;
    return (this.builtInService ??= new PolicyRunner(undefined, this.set.retries.get(BUILT_IN_SERVICE_RETRIES), undefined, undefined));
  }

  canRetry(kind: TargetKind, key: string): boolean {
    if (this.isEmpty) return false;
    const retry = this.target(kind, key).resolved.retry;
    return retry !== undefined && retry.maxRetries !== 0;
  }

  private target(kind: TargetKind, key: string): TargetInfo {
    const map = this.targets[kind];
    let info = map.get(key);
    if (info) return info;
    const base = { name: this.set.name, namespace: this.set.namespace };
    let resolved: Resolved;
    let metric: MetricTarget;
    if (kind === 'app') {
      resolved = this.set.app(key);
      metric = { ...base, direction: 'outbound', target: `app_${key}` };
    } else if (kind === 'actor' || kind === 'turn') {
      // Dapr splits an actor target: retry and breaker before the lock, the timeout after it.
      const { timeoutMs, retry, breaker, named } = this.set.actor(key);
      resolved = kind === 'actor' ? { retry, breaker, named } : { timeoutMs, named };
      metric = { ...base, direction: 'outbound', target: `actor_${key}` };
    } else {
      const type = this.opts.componentType(key);
      const typeName = type ? componentTypeName(type) : undefined;
      const direction: Direction = kind === 'out' ? 'outbound' : 'inbound';
      resolved = this.set.component(key, typeName, direction);
      metric = { ...base, direction, target: `${typeName ?? 'Component'}_${key}` };
    }
    info = new TargetInfo(resolved, metric, this.opts.metrics);
    map.set(key, info);
    return info;
  }

  private breaker(kind: TargetKind, key: string, sub: string | undefined, info: TargetInfo): Breaker {
    if (kind === 'out' || kind === 'in') {
      // One breaker per component, shared by both directions; the first to create it decides.
      let b = this.componentBreakers.get(key);
      if (!b) {
        b = this.newBreaker(key, info);
        this.componentBreakers.set(key, b);
      }
      return b;
    }
    let bkey: string;
    if (kind === 'app') {
      bkey = `${key}:${sub ?? ''}`;
      info.breakers ??= new BreakerCache(this.set.app(key).cacheSize);
    } else {
      const actor = this.set.actor(key);
      bkey = actor.scope !== 'type' && sub !== undefined ? `${key}-${sub}` : key;
      info.breakers ??= new BreakerCache(actor.cacheSize);
    }
    let b = info.breakers.get(bkey);
    if (!b) {
      b = this.newBreaker(bkey, info);
      info.breakers.add(bkey, b);
    }
    return b;
  }

  private newBreaker(bkey: string, info: TargetInfo): Breaker {
    return new Breaker(bkey, info.resolved.breaker!, (b, from, to) => this.changed(b, from, to, info));
  }

  private changed(b: Breaker, from: BreakerState, to: BreakerState, info: TargetInfo): void {
    this.opts.logger.info(`Circuit breaker "${b.key}" changed state from ${from} to ${to}`, { policy: b.spec.name, target: info.metric.target });
    this.opts.metrics.recordActivation(info.metric, 'circuitbreaker', to);
    this.opts.metrics.showBreakerState(info.counts, to);
  }
}

class TargetPolicy implements CallPolicy {
  constructor(
    private readonly provider: ResiliencyProvider,
    private readonly kind: TargetKind,
    private readonly key: string,
    private readonly sub: string | undefined,
  ) {}

  run<T>(op: (signal: AbortSignal | undefined) => Promise<T>, options?: RunOptions<T>): Promise<T> {
    const runner = this.provider.current.runner(this.kind, this.key, this.sub);
    return runner ? runner.run(op, options) : op(options?.signal);
  }

  canRetry(): boolean {
    return this.provider.current.canRetry(this.kind, this.key);
  }
}

export class ResiliencyProvider implements PolicyProvider {
  private snapshot: Snapshot;
  private loaded: readonly string[] = [];
  private readonly handles = new Map<string, TargetPolicy>();

  constructor(private readonly opts: ProviderOptions, specs: readonly ResiliencySpec[] = []) {
    this.snapshot = this.build(specs);
  }

  /** The snapshot new calls use. */
  get current(): Snapshot {
    return this.snapshot;
  }

  /** The merged policies in force (for metadata and tests). */
  get policies(): PolicySet {
    return this.snapshot.set;
  }

  /** The names of the Resiliency resources in force (the last good set after a hot reload). */
  get resourceNames(): readonly string[] {
    return this.loaded;
  }

  /** Swaps in a new set of resources; calls in flight finish under the old one. */
  replace(specs: readonly ResiliencySpec[]): void {
    this.snapshot = this.build(specs);
  }

  private build(specs: readonly ResiliencySpec[]): Snapshot {
    const set = PolicySet.merge(specs, (msg) => this.opts.logger.warn(msg));
    for (const d of set.danglingBreakers()) this.opts.logger.warn(`resiliency target ${d} names no circuit breaker; no breaker applies`);
    for (const s of specs) this.opts.metrics.recordLoaded(s.name, s.namespace ?? '');
    const snapshot = new Snapshot(set, this.opts);
    this.loaded = specs.map((s) => s.name);
    return snapshot;
  }

  componentOutbound(component: string): CallPolicy {
    return this.handle('out', component);
  }

  componentInbound(component: string): CallPolicy {
    return this.handle('in', component);
  }

  app(appId: string, method?: string): CallPolicy {
    return method === undefined ? this.handle('app', appId) : new TargetPolicy(this, 'app', appId, method);
  }

  actor(actorType: string, actorId?: string): CallPolicy {
    return actorId === undefined ? this.handle('actor', actorType) : new TargetPolicy(this, 'actor', actorType, actorId);
  }

  actorTurn(actorType: string): CallPolicy {
    return this.handle('turn', actorType);
  }

  builtInServiceRetries(appId: string): CallPolicy | undefined {
    return this.snapshot.builtInServiceRetries(appId);
  }

  private handle(kind: TargetKind, key: string): TargetPolicy {
    const id = `${kind}\0${key}`;
    let h = this.handles.get(id);
    if (!h) {
      h = new TargetPolicy(this, kind, key, undefined);
      this.handles.set(id, h);
    }
    return h;
  }
}
