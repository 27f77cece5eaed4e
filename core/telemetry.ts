// What building blocks and the proxy need from telemetry, and nothing more: child spans in W3C
// trace context, and Dapr's component metrics. telemetry/ implements it; `noTelemetry` is the
// default when tracing and metrics are off (nothing is recorded, incoming context passes through).

/** W3C trace context as it travels in headers and CloudEvent fields. */
export interface TraceHeaders {
  traceparent?: string | undefined;
  tracestate?: string | undefined;
}

/** Span kinds as Dapr sets them (API spans are CLIENT, sidecar-to-sidecar receive spans SERVER). */
export type SpanKind = 'server' | 'client' | 'producer' | 'consumer' | 'internal';

export type AttributeValue = string | number | boolean;

export interface Span {
  /** The `traceparent` to send onward: this span's context, or the incoming one when tracing is off. */
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
  /** 32 lower-hex trace id, or '' when there is no context at all. */
  readonly traceId: string;
  /**
   * True when the span is sampled and will be exported; attributes are worth computing only then.
   * A span that is not recording only carries context: its other methods, end() too, do nothing.
   */
  readonly isRecording: boolean;
  setAttribute(key: string, value: AttributeValue): void;
  updateName(name: string): void;
  /** Error status `Code(<n>): <text>` when status >= 400, as Dapr marks HTTP spans. */
  setHttpStatus(status: number): void;
  /** Error status with the error's message. */
  recordError(err: unknown): void;
  end(): void;
}

/** dapr_component_<kind>_count / _latencies. */
export type ComponentMetricKind = 'state' | 'secret' | 'configuration' | 'crypto' | 'output_binding' | 'input_binding' | 'conversation';

export type PubsubProcessStatus = 'success' | 'retry' | 'drop';

/** What the actors block has now, per actor type, read when the metrics are scraped. */
export interface ActorGauges {
  pendingCalls: ReadonlyMap<string, number>;
  timers: ReadonlyMap<string, number>;
  reminders: ReadonlyMap<string, number>;
}

/** Dapr's `dapr_runtime_actor_*` metrics; labelled by actor type only, never by actor id. */
export interface ActorMetrics {
  /** The source of the pending-calls, timers and reminders gauges (the last one given wins). */
  observe(gauges: () => ActorGauges): void;
  timerFired(actorType: string, success: boolean): void;
  reminderFired(actorType: string, success: boolean): void;
  deactivated(actorType: string, success: boolean): void;
  /** An active actor moved away after a placement change. */
  rebalanced(actorType: string): void;
}

/** The client operations Dapr counts in dapr_runtime_workflow_operation_*. */
export type WorkflowOperation = 'create_workflow' | 'get_workflow' | 'add_event' | 'purge_workflow';
export type WorkflowExecutionStatus = 'success' | 'failed' | 'terminated' | 'recoverable';

/** Dapr's `dapr_runtime_workflow_*` metrics; labelled by workflow or activity name, never by instance id. */
export interface WorkflowMetrics {
  operation(op: WorkflowOperation, success: boolean, elapsedMs: number): void;
  /** A workflow ended (success, failed, terminated) or a step of it failed and will be retried (recoverable). */
  execution(workflowName: string, status: WorkflowExecutionStatus, elapsedMs?: number): void;
  /** From the start request (or its scheduled start time) to the first step run. */
  scheduling(workflowName: string, elapsedMs: number): void;
  activity(activityName: string, status: Exclude<WorkflowExecutionStatus, 'terminated'>, elapsedMs: number): void;
}

export interface Telemetry {
  /** Actor metrics, when metrics are on (an implementation without them leaves this undefined). */
  readonly actors?: ActorMetrics | undefined;
  /** Workflow metrics, when metrics are on. */
  readonly workflows?: WorkflowMetrics | undefined;
  /** Starts a span as a child of `parent` (or a new root). Always end() it. */
  startSpan(name: string, kind: SpanKind, parent?: TraceHeaders): Span;
  /**
   * One call to a component; `operation` as Dapr names it (get, set, delete, bulk_get, ...).
   * With `parent` (e.g. the request's `ex.span`) a sampled request also gets a child span for the call.
   */
  recordComponent(kind: ComponentMetricKind, component: string, operation: string, success: boolean, elapsedMs: number, parent?: Span): void;
  /** One publish to a broker (dapr_component_pubsub_egress_*); `parent` as for recordComponent. */
  recordPublish(component: string, topic: string, success: boolean, elapsedMs: number, parent?: Span): void;
  /** One delivery to the app (dapr_component_pubsub_ingress_*); `status` differs from processStatus for app DROP/no route. */
  recordDelivery(component: string, topic: string, processStatus: PubsubProcessStatus, status: PubsubProcessStatus, elapsedMs: number): void;
}

class PassThroughSpan implements Span {
  readonly traceId: string;
  readonly isRecording = false;
  constructor(
    readonly traceparent: string | undefined,
    readonly tracestate: string | undefined,
  ) {
    this.traceId = traceparent && traceparent.length >= 35 ? traceparent.slice(3, 35).toLowerCase() : '';
  }
  setAttribute(): void {}
  updateName(): void {}
  setHttpStatus(): void {}
  recordError(): void {}
  end(): void {}
}

const EMPTY_SPAN = new PassThroughSpan(undefined, undefined);

/** A span that records nothing and hands the incoming context on unchanged. */
export function passThroughSpan(parent?: TraceHeaders): Span {
  return parent?.traceparent ? new PassThroughSpan(parent.traceparent, parent.tracestate) : EMPTY_SPAN;
}

export const noTelemetry: Telemetry = {
  startSpan: (_name, _kind, parent) => passThroughSpan(parent),
  recordComponent: () => undefined,
  recordPublish: () => undefined,
  recordDelivery: () => undefined,
};

/** Times `op` and records it as one component call, success or not. */
export async function timedComponentCall<T>(
  telemetry: Telemetry,
  kind: ComponentMetricKind,
  component: string,
  operation: string,
  op: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  let ok = false;
  try {
    const v = await op();
    ok = true;
    return v;
  } finally {
    telemetry.recordComponent(kind, component, operation, ok, performance.now() - started);
  }
}
