// Dapr's resiliency metrics (pkg/diagnostics/resiliency_monitoring.go). The counters exist from
// start-up, before the metrics listener does; registerResiliencyMetrics() adds them to the
// Prometheus registry that telemetry/metrics.ts creates. Empty label values stay present as "".
import { Counter, Gauge, type Registry } from 'prom-client';
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

export class ResiliencyMetrics {
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

  /** One lookup of `kind` for an operation; `status` is the breaker state for circuitbreaker. */
  recordCount(t: MetricTarget, kind: PolicyKind, status: string): void {
    this.count.inc(this.labels(t, kind, status));
  }

  recordActivation(t: MetricTarget, kind: PolicyKind, status: string): void {
    this.activations.inc(this.labels(t, kind, status));
  }

  /** The current breaker state has value 1, the other three 0. */
  recordBreakerState(t: MetricTarget, state: BreakerState): void {
    for (const s of CB_STATES) this.cbState.set(this.labels(t, 'circuitbreaker', s), s === state ? 1 : 0);
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
