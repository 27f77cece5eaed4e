// The sidecar's telemetry, built once from Configuration `spec.tracing` and `spec.metric`: the
// tracer (absent when samplingRate is "0"), Dapr's metric families (absent when metrics are off),
// the Prometheus registry other parts register on, and the Telemetry facade blocks receive.
// The exporters (./tracing/tracer.ts) are imported only when spans are exported somewhere.
import type { Logger } from '../core/component.js';
import {
  passThroughSpan,
  type ComponentMetricKind,
  type PubsubProcessStatus,
  type Span,
  type SpanKind,
  type Telemetry,
  type TraceHeaders,
} from '../core/telemetry.js';
import { DaprActorMetrics } from './metrics/actor-metrics.js';
import { DaprMetrics } from './metrics/dapr-metrics.js';
import { DaprSecurityMetrics } from './metrics/security-metrics.js';
import { DaprWorkflowMetrics } from './metrics/workflow-metrics.js';
import { collectDefaultMetrics, Registry } from './metrics/prom.js';
import { metricsSettings, type MetricsSettings } from './metrics/settings.js';
import { PropagatingTracer } from './tracing/propagating-tracer.js';
import { epochMs } from './tracing/recorded-span.js';
import { tracingSettings, type TracingSettings } from './tracing/settings.js';

/** What the trace layers need: the tracer, recording into exporters (./tracing/tracer.ts) or not. */
export interface SpanSource {
  /** `startTimeMs`: epoch milliseconds, fractional (epochMs()), for a back-dated span. */
  startSpan(name: string, kind: SpanKind, parent?: TraceHeaders, startTimeMs?: number): Span;
  shutdown(): Promise<void>;
}

export interface SidecarTelemetryOptions {
  appId: string;
  namespace?: string;
  /** Configuration spec.tracing and spec.metric, raw. */
  tracing: Record<string, unknown>;
  metric: Record<string, unknown>;
  /** --enable-metrics. */
  enableMetrics: boolean;
  env: Readonly<Record<string, string | undefined>>;
  logger: Logger;
}

export class SidecarTelemetry implements Telemetry {
  readonly registry: Registry;
  readonly tracing: TracingSettings;
  readonly metricSettings: MetricsSettings;
  /** Undefined when tracing is off (samplingRate "0"). */
  readonly tracer: SpanSource | undefined;
  /** Undefined when metrics are off (--enable-metrics=false or spec.metric.enabled false). */
  readonly metrics: DaprMetrics | undefined;
  /** dapr_runtime_actor_*, undefined when metrics are off. */
  readonly actors: DaprActorMetrics | undefined;
  /** dapr_runtime_mtls_* and dapr_runtime_acl_*, undefined when metrics are off. */
  readonly security: DaprSecurityMetrics | undefined;
  /** dapr_runtime_workflow_*, undefined when metrics are off. */
  readonly workflows: DaprWorkflowMetrics | undefined;
  /** prom-client's process_* and nodejs_* metrics wait for the first scrape (see scrape()). */
  private defaultMetricsPending: boolean;

  static async create(o: SidecarTelemetryOptions): Promise<SidecarTelemetry> {
    const tracing = tracingSettings(o.tracing, o.env);
    let tracer: SpanSource | undefined;
    if (tracing.samplingRate > 0) {
      const exported = tracing.otlp !== undefined || tracing.zipkinUrl !== undefined || tracing.stdout;
      tracer = exported ? await (await import('./tracing/tracer.js')).createTracer(tracing, o.appId, o.logger, o.env) : new PropagatingTracer(tracing.samplingRate);
    }
    return new SidecarTelemetry(o, tracing, tracer);
  }

  private constructor(o: SidecarTelemetryOptions, tracing: TracingSettings, tracer: SpanSource | undefined) {
    this.tracing = tracing;
    this.metricSettings = metricsSettings(o.metric);
    const diag = o.logger.child({ scope: 'dapr.runtime.diagnostics' });
    this.tracer = tracer;
    this.registry = new Registry();
    this.registry.setDefaultLabels({ app_id: o.appId });
    const metricsOn = o.enableMetrics && this.metricSettings.enabled;
    this.defaultMetricsPending = metricsOn;
    if (metricsOn) {
      this.metrics = new DaprMetrics(this.registry, this.metricSettings, o.namespace);
      this.actors = new DaprActorMetrics(this.registry);
      this.security = new DaprSecurityMetrics(this.registry);
      this.workflows = new DaprWorkflowMetrics(this.registry, this.metricSettings.latencyBuckets, o.namespace ?? '');
      if (this.metricSettings.increasedCardinality && this.metricSettings.pathMatching.length === 0) {
        diag.info('metric.http.increasedCardinality is on (the default): HTTP metric paths keep ids, up to a bound; set pathMatching or turn it off to group them');
      }
    } else {
      this.metrics = undefined;
      this.actors = undefined;
      this.security = undefined;
      this.workflows = undefined;
    }
  }

  /**
   * The registry's text for the metrics port. prom-client's default metrics are registered on
   * the first scrape, not at start: loading them (and @opentelemetry/api, which they import)
   * costs start-up time and idle memory for sidecars nobody scrapes. Their histograms (GC
   * durations, event-loop delay) therefore count from the first scrape on.
   */
  scrape(): Promise<string> {
    if (this.defaultMetricsPending) {
      this.defaultMetricsPending = false;
      collectDefaultMetrics(this.registry);
    }
    return this.registry.metrics();
  }

  startSpan(name: string, kind: SpanKind, parent?: TraceHeaders): Span {
    return this.tracer ? this.tracer.startSpan(name, kind, parent) : passThroughSpan(parent);
  }

  recordComponent(kind: ComponentMetricKind, component: string, operation: string, success: boolean, elapsedMs: number, parent?: Span): void {
    this.metrics?.recordComponent(kind, component, operation, success, elapsedMs);
    if (parent?.isRecording) this.componentSpan(`${kind}/${component}/${operation}`, kind, component, operation, success, elapsedMs, parent);
  }

  recordPublish(component: string, topic: string, success: boolean, elapsedMs: number, parent?: Span): void {
    this.metrics?.recordPublish(component, topic, success, elapsedMs);
    if (parent?.isRecording) this.componentSpan(`pubsub/${component}/publish`, 'pubsub', component, 'publish', success, elapsedMs, parent);
  }

  /**
   * A CLIENT span for one component call, child of `parent`, back-dated by the call's duration
   * (beyond Dapr, which puts component attributes on the API span only). The parent is passed
   * explicitly: finding it implicitly (AsyncLocalStorage) costs every request too much on Node 20.
   */
  private componentSpan(name: string, system: string, component: string, operation: string, success: boolean, elapsedMs: number, parent: Span): void {
    if (!this.tracer) return;
    const span = this.tracer.startSpan(name, 'client', parent, epochMs() - elapsedMs);
    span.setAttribute('db.system', system);
    span.setAttribute('db.name', component);
    span.setAttribute('db.operation', operation);
    if (!success) span.recordError(new Error(`${operation} on ${component} failed`));
    span.end();
  }

  recordDelivery(component: string, topic: string, processStatus: PubsubProcessStatus, status: PubsubProcessStatus, elapsedMs: number): void {
    this.metrics?.recordDelivery(component, topic, processStatus, status, elapsedMs);
  }

  /** Flushes queued spans (bounded by exporter timeouts) and stops exporting. */
  async shutdown(): Promise<void> {
    await this.tracer?.shutdown();
  }
}
