// Dapr's dapr_runtime_workflow_* metrics on the sidecar's registry, with daprd's names, labels
// and latency buckets (the configured latency distribution, as daprd uses for them). Workflow
// and activity names come from the app; past MAX_NAMES distinct names the rest are counted
// under `_other`, so a client that starts made-up names cannot grow the series without bound.
// Latencies are in whole milliseconds: 0 (done within the same millisecond) is observed like any
// other; only a negative one (the wall clock stepped back) is left out.
import { Counter, Histogram, type Registry } from './prom.js';
import type { WorkflowExecutionStatus, WorkflowMetrics, WorkflowOperation } from '../../core/telemetry.js';

const MAX_NAMES = 200;
const OTHER = '_other';

export class DaprWorkflowMetrics implements WorkflowMetrics {
  private readonly opCount: Counter<string>;
  private readonly opLatency: Histogram<string>;
  private readonly execCount: Counter<string>;
  private readonly execLatency: Histogram<string>;
  private readonly schedLatency: Histogram<string>;
  private readonly actCount: Counter<string>;
  private readonly actLatency: Histogram<string>;
  private readonly names = new Set<string>();

  constructor(
    registry: Registry,
    latencyBuckets: number[],
    private readonly ns: string,
  ) {
    const counter = (name: string, help: string, labelNames: string[]): Counter<string> => new Counter({ name, help, labelNames: ['namespace', ...labelNames], registers: [registry] });
    const histogram = (name: string, help: string, labelNames: string[]): Histogram<string> =>
      new Histogram({ name, help, labelNames: ['namespace', ...labelNames], buckets: latencyBuckets, registers: [registry] });
    this.opCount = counter('dapr_runtime_workflow_operation_count', 'The number of successful/failed workflow operation requests.', ['operation', 'status']);
    this.opLatency = histogram('dapr_runtime_workflow_operation_latency', 'The latencies of responses for workflow operation requests.', ['operation', 'status']);
    this.execCount = counter('dapr_runtime_workflow_execution_count', 'The number of successful/failed/terminated/recoverable workflow executions.', ['workflow_name', 'status']);
    this.execLatency = histogram('dapr_runtime_workflow_execution_latency', 'The total time taken to run workflow to completion.', ['workflow_name', 'status']);
    this.schedLatency = histogram('dapr_runtime_workflow_scheduling_latency', 'Interval between workflow execution request and workflow execution.', ['workflow_name']);
    this.actCount = counter('dapr_runtime_workflow_activity_execution_count', 'The number of successful/failed/recoverable activity executions.', ['activity_name', 'status']);
    this.actLatency = histogram('dapr_runtime_workflow_activity_execution_latency', 'The total time taken to run an activity to completion.', ['activity_name', 'status']);
  }

  private bounded(name: string): string {
    if (this.names.has(name)) return name;
    if (this.names.size >= MAX_NAMES) return OTHER;
    this.names.add(name);
    return name;
  }

  operation(op: WorkflowOperation, success: boolean, elapsedMs: number): void {
    const labels = { namespace: this.ns, operation: op, status: success ? 'success' : 'failed' };
    this.opCount.inc(labels);
    if (elapsedMs >= 0) this.opLatency.observe(labels, elapsedMs);
  }

  execution(workflowName: string, status: WorkflowExecutionStatus, elapsedMs?: number): void {
    const labels = { namespace: this.ns, workflow_name: this.bounded(workflowName), status };
    this.execCount.inc(labels);
    if (elapsedMs !== undefined && elapsedMs >= 0) this.execLatency.observe(labels, elapsedMs);
  }

  scheduling(workflowName: string, elapsedMs: number): void {
    if (elapsedMs >= 0) this.schedLatency.observe({ namespace: this.ns, workflow_name: this.bounded(workflowName) }, elapsedMs);
  }

  activity(activityName: string, status: Exclude<WorkflowExecutionStatus, 'terminated'>, elapsedMs: number): void {
    const labels = { namespace: this.ns, activity_name: this.bounded(activityName), status };
    this.actCount.inc(labels);
    if (elapsedMs >= 0) this.actLatency.observe(labels, elapsedMs);
  }
}
