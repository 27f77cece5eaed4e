// Dapr's resiliency metrics (pkg/diagnostics/resiliency_monitoring.go). The counters exist from
// start-up, before the metrics listener does; registerResiliencyMetrics() adds them to the
// Prometheus registry that telemetry/metrics.ts creates. Empty label values stay present as "".
import { Counter, Gauge, type Registry } from '../telemetry/metrics/prom.js';
import type { BreakerState } from './breaker.js';
import type { PolicyKind } from './build.js';
import type { Direction } from './lookup.js';

const POLICY_LABELS = ['app_id', 'name', 'policy', 'namespace', 'flow_direction', 'target', 'status'] as const;
const CB_STATES: readonly (BreakerState | 'unknown')[] = ['closed', 'half-open', 'open', 'unknown'];

/** Who the metrics describe: the resource naming (Dapr uses the last one decoded) and the target. */
export interface MetricTarget {
  name: string;
  namespace: string;
  direction: Direction;
  /** `app_<id>`, `actor_<type>`, `<ComponentType>_<name>`. */
  target: string;
}

/**
 * One target's lookups, kept as plain numbers on the call path and added to
 * `dapr_resiliency_count` when the metrics are scraped (prom-client hashes the label set on
 * every inc; a lookup happens on every call).
 */
export class TargetCounts {
  timeout = 0;
  retry = 0;
  readonly breaker: Record<BreakerState, number> = { closed: 0, 'half-open': 0, open: 0 };
  /** The breaker state the gauge shows for this target (undefined: never set). */
  shownState: BreakerState | undefined = undefined;

  constructor(readonly target: MetricTarget) {}
}

export class ResiliencyMetrics {
  private readonly pending = new Map<string, TargetCounts>();

  readonly loaded = new Counter({
    name: 'dapr_resiliency_loaded',
    help: 'Number of resiliency policies loaded.',
    labelNames: ['app_id', 'name', 'namespace'] as const,
    registers: [],
  });
  readonly count = new Counter({
    name: 'dapr_resiliency_count',
    help: 'Number of times a resiliency policy has been applied to a building block.',
    labelNames: POLICY_LABELS,
    registers: [],
    collect: () => this.flush(),
  });
  readonly activations = new Counter({
    name: 'dapr_resiliency_activations_total',
    help: 'Number of times a resiliency policy has been activated in a building block after a failure or after a state change.',
    labelNames: POLICY_LABELS,
    registers: [],
  });
  readonly cbState = new Gauge({
    name: 'dapr_resiliency_cb_state',
    help: 'A resiliency policy\'s current CircuitBreakerState state. 0 is closed, 1 is half-open, 2 is open, and -1 is unknown.',
    labelNames: POLICY_LABELS,
    registers: [],
  });

  constructor(private readonly appId: string) {}

  recordLoaded(name: string, namespace: string): void {
    this.loaded.inc({ app_id: this.appId, name, namespace });
  }

  /** The lookup counts of `t` (one object per target, shared by every snapshot that names it). */
  counts(t: MetricTarget): TargetCounts {
    const key = `${t.name}\0${t.namespace}\0${t.direction}\0${t.target}`;
    let c = this.pending.get(key);
    if (!c) {
      c = new TargetCounts(t);
      this.pending.set(key, c);
    }
    return c;
  }

  recordActivation(t: MetricTarget, kind: PolicyKind, status: string): void {
    this.activations.inc(this.labels(t, kind, status));
  }

  /** The current breaker state has value 1, the other three 0. */
  recordBreakerState(t: MetricTarget, state: BreakerState): void {
    for (const s of CB_STATES) this.cbState.set(this.labels(t, 'circuitbreaker', s), s === state ? 1 : 0);
  }

  /** A lookup saw `state`: the gauge changes only when it differs from what it shows. */
  showBreakerState(c: TargetCounts, state: BreakerState): void {
    if (c.shownState === state) return;
    c.shownState = state;
    this.recordBreakerState(c.target, state);
  }

  /** Moves the counts gathered on the call path into `dapr_resiliency_count`. */
  flush(): void {
    for (const c of this.pending.values()) {
      if (c.timeout > 0) this.recordCounts(c, 'timeout', '', c.timeout);
      if (c.retry > 0) this.recordCounts(c, 'retry', '', c.retry);
      for (const s of ['closed', 'half-open', 'open'] as const) {
        if (c.breaker[s] > 0) this.recordCounts(c, 'circuitbreaker', s, c.breaker[s]);
      }
      c.timeout = 0;
      c.retry = 0;
      c.breaker.closed = 0;
      c.breaker['half-open'] = 0;
      c.breaker.open = 0;
    }
  }

  private recordCounts(c: TargetCounts, kind: PolicyKind, status: string, n: number): void {
    this.count.inc(this.labels(c.target, kind, status), n);
  }

  private labels(t: MetricTarget, kind: PolicyKind, status: string): Record<(typeof POLICY_LABELS)[number], string> {
    return { app_id: this.appId, name: t.name, policy: kind, namespace: t.namespace, flow_direction: t.direction, target: t.target, status };
  }
}

/** Adds the resiliency families to `registry` (the one telemetry/metrics.ts serves). */
export function registerResiliencyMetrics(registry: Registry, metrics: ResiliencyMetrics): void {
  const all: Array<[string, Counter<string> | Gauge<string>]> = [
    ['dapr_resiliency_loaded', metrics.loaded],
    ['dapr_resiliency_count', metrics.count],
    ['dapr_resiliency_activations_total', metrics.activations],
    ['dapr_resiliency_cb_state', metrics.cbState],
  ];
  for (const [name, m] of all) if (!registry.getSingleMetric(name)) registry.registerMetric(m);
}
