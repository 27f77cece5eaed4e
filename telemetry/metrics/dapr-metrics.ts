// Dapr's sidecar metric families on a prom-client registry: names, types, labels and buckets as
// daprd serves them (no `_total` appended; latencies in whole milliseconds; `app_id` is the
// registry's default label). One method per thing that happens; the hot HTTP path caches the
// label children per (method, path, status).
import { Counter, Histogram, type Registry } from './prom.js';
import type { ComponentMetricKind, PubsubProcessStatus } from '../../core/telemetry.js';
import { PathLabeler } from './path-label.js';
import { SIZE_BUCKETS, type MetricsSettings } from './settings.js';

const METHODS = new Set(['GET', 'PUT', 'POST', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'CONNECT', 'TRACE']);

interface ServerChildren {
  count: ReturnType<Counter<string>["labels"]>;
  latency: ReturnType<Histogram<string>["labels"]>;
  response: ReturnType<Counter<string>["labels"]> | undefined;
}

interface ClientChildren {
  count: ReturnType<Counter<string>['labels']>;
  latency: ReturnType<Histogram<string>['labels']>;
  sent: ReturnType<Histogram<string>['labels']>;
}

interface CountAndLatency {
  count: ReturnType<Counter<string>['labels']>;
  latency: ReturnType<Histogram<string>['labels']>;
}

type Labels = Record<string, string>;

export class DaprMetrics {
  private readonly serverLabeler: PathLabeler;
  private readonly clientLabeler: PathLabeler;
  private readonly serverChildren = new Map<string, ServerChildren>();
  private readonly clientChildren = new Map<string, ClientChildren>();
  private readonly ns: string;

  private readonly httpServerCount: Counter<string>;
  private readonly httpServerLatency: Histogram<string>;
  private readonly httpServerRequestBytes: Histogram<string>;
  private readonly httpServerResponseBytes: Histogram<string>;
  private readonly httpServerResponseCount: Counter<string> | undefined;
  private readonly httpClientCount: Counter<string>;
  private readonly httpClientLatency: Histogram<string>;
  private readonly httpClientSentBytes: Histogram<string>;
  private readonly httpClientReceivedBytes: Histogram<string>;
  private readonly healthProbeCount: Counter<string>;
  private readonly healthProbeLatency: Histogram<string>;
  private readonly componentCount = new Map<ComponentMetricKind, Counter<string>>();
  private readonly componentLatency = new Map<ComponentMetricKind, Histogram<string>>();
  private readonly egressCount: Counter<string>;
  private readonly egressLatency: Histogram<string>;
  private readonly ingressCount: Counter<string>;
  private readonly ingressLatency: Histogram<string>;
  private readonly componentLoaded: Counter<string>;
  private readonly componentInit: Counter<string>;
  private readonly componentInitFail: Counter<string>;
  private readonly invReqSent: Counter<string>;
  private readonly invReqRecv: Counter<string>;
  private readonly invResSent: Counter<string>;
  private readonly invResRecv: Counter<string>;
  private readonly invResRecvLatency: Histogram<string>;
  private readonly errorCodes: Counter<string> | undefined;
  private readonly grpcServerCompleted: Counter<string>;
  private readonly grpcServerLatency: Histogram<string>;
  private readonly egressChildren = new Map<string, CountAndLatency>();
  private readonly ingressChildren = new Map<string, CountAndLatency>();
  private readonly grpcChildren = new Map<string, CountAndLatency>();

  constructor(
    readonly registry: Registry,
    private readonly settings: MetricsSettings,
    namespace: string | undefined,
  ) {
    this.ns = namespace ?? '';
    const labelOpts = { increasedCardinality: settings.increasedCardinality, pathMatching: settings.pathMatching };
    this.serverLabeler = new PathLabeler(labelOpts);
    this.clientLabeler = new PathLabeler(labelOpts);
    const lat = settings.latencyBuckets;
    const counter = (name: string, help: string, labelNames: string[]): Counter<string> => new Counter({ name, help, labelNames, registers: [registry] });
    const histogram = (name: string, help: string, labelNames: string[], buckets: number[]): Histogram<string> =>
      new Histogram({ name, help, labelNames, buckets, registers: [registry] });
    const mps = ['method', 'path', 'status'];

    this.httpServerCount = counter('dapr_http_server_request_count', 'Number of HTTP requests started in server.', mps);
    this.httpServerLatency = histogram('dapr_http_server_latency', 'HTTP request end-to-end latency in server (ms).', mps, lat);
    this.httpServerRequestBytes = histogram('dapr_http_server_request_bytes', 'HTTP request size in bytes (Content-Length) in server.', [], SIZE_BUCKETS);
    this.httpServerResponseBytes = histogram('dapr_http_server_response_bytes', 'HTTP response size in bytes in server.', [], SIZE_BUCKETS);
    this.httpServerResponseCount = settings.increasedCardinality
      ? counter('dapr_http_server_response_count', 'The number of HTTP responses', mps)
      : undefined;
    this.httpClientCount = counter('dapr_http_client_completed_count', 'Count of completed requests to the app.', mps);
    this.httpClientLatency = histogram('dapr_http_client_roundtrip_latency', 'Time between first byte of request headers sent to last byte of response received (ms).', mps, lat);
    this.httpClientSentBytes = histogram('dapr_http_client_sent_bytes', 'Total bytes sent in request body (not including headers).', mps, SIZE_BUCKETS);
    this.httpClientReceivedBytes = histogram('dapr_http_client_received_bytes', 'Total bytes received in response bodies (not including headers).', [], SIZE_BUCKETS);

    this.healthProbeCount = counter('dapr_http_healthprobes_completed_count', 'Count of completed app health probes.', ['status']);
    this.healthProbeLatency = histogram('dapr_http_healthprobes_roundtrip_latency', 'Time of an app health probe (ms).', ['status'], lat);
    const comp = ['component', 'namespace', 'operation', 'success'];
    const kinds: Array<[ComponentMetricKind, string[]]> = [
      ['state', comp], ['secret', comp], ['configuration', comp], ['crypto', comp], ['output_binding', comp],
      ['input_binding', ['component', 'namespace', 'success']], ['conversation', ['component', 'namespace', 'success']],
    ];
    for (const [kind, labels] of kinds) {
      this.componentCount.set(kind, counter(`dapr_component_${kind}_count`, `The number of ${kind} operations.`, labels));
      this.componentLatency.set(kind, histogram(`dapr_component_${kind}_latencies`, `The latency of ${kind} operations (ms).`, labels, lat));
    }
    const egress = ['component', 'namespace', 'success', 'topic'];
    this.egressCount = counter('dapr_component_pubsub_egress_count', 'The number of outgoing messages published to the pub/sub component.', egress);
    this.egressLatency = histogram('dapr_component_pubsub_egress_latencies', 'The latency of a publish to the pub/sub component (ms).', egress, lat);
    const ingress = ['component', 'namespace', 'process_status', 'topic', 'status'];
    this.ingressCount = counter('dapr_component_pubsub_ingress_count', 'The number of incoming messages arriving from the pub/sub component.', ingress);
    this.ingressLatency = histogram('dapr_component_pubsub_ingress_latencies', 'The consuming app event processing latency (ms).', ingress, lat);

    this.componentLoaded = counter('dapr_runtime_component_loaded', 'The number of successfully loaded components.', []);
    this.componentInit = counter('dapr_runtime_component_init_total', 'The number of initialized components.', ['component']);
    this.componentInitFail = counter('dapr_runtime_component_init_fail_total', 'The number of component initialization failures.', ['component', 'reason', 'componentName']);
    this.invReqSent = counter('dapr_runtime_service_invocation_req_sent_total', 'The number of requests sent via service invocation.', ['dst_app_id', 'type']);
    this.invReqRecv = counter('dapr_runtime_service_invocation_req_recv_total', 'The number of requests received via service invocation.', ['src_app_id']);
    this.invResSent = counter('dapr_runtime_service_invocation_res_sent_total', 'The number of responses sent via service invocation.', ['dst_app_id', 'status']);
    this.invResRecv = counter('dapr_runtime_service_invocation_res_recv_total', 'The number of responses received via service invocation.', ['src_app_id', 'status', 'type']);
    this.invResRecvLatency = histogram('dapr_runtime_service_invocation_res_recv_latency_ms', 'The latency of service invocation responses (ms).', ['src_app_id', 'status'], lat);
    const gms = ['grpc_server_method', 'grpc_server_status'];
    this.grpcServerCompleted = counter('dapr_grpc_io_server_completed_rpcs', 'Distribution of bytes sent per RPC, by method.', gms);
    this.grpcServerLatency = histogram('dapr_grpc_io_server_server_latency', 'Time between first byte of request received to last byte of response sent, or terminal error.', gms, lat);
    this.errorCodes = settings.recordErrorCodes ? counter('dapr_error_code_total', 'Number of times an error with a specific error code was encountered.', ['error_code', 'category']) : undefined;
  }

  private method(m: string | undefined): string {
    if (this.settings.excludeVerbs) return '';
    return m && METHODS.has(m) ? m : 'UNKNOWN';
  }

  /** A counter's and a histogram's children for one label set, made once per `key` (without
   * metric rules): prom-client hashes a label object on every call given one. */
  private cachedPair(cache: Map<string, CountAndLatency>, key: string, count: Counter<string>, latency: Histogram<string>, labels: () => Labels): CountAndLatency {
    let c = cache.get(key);
    if (!c) {
      const l = labels();
      c = { count: count.labels(l), latency: latency.labels(l) };
      cache.set(key, c);
    }
    return c;
  }

  /** Applies `spec.metric.rules` for `metric` (only called when rules exist). */
  private rewrite(metric: string, labels: Labels): Labels {
    const rules = this.settings.rules.get(metric);
    if (!rules) return labels;
    for (const r of rules) {
      let v = labels[r.label];
      if (v === undefined) continue;
      for (const { regex, replacement } of r.replacements) v = v.replace(regex, replacement);
      labels[r.label] = v;
    }
    return labels;
  }

  private labels(metric: string, labels: Labels): Labels {
    return this.settings.rules.size > 0 ? this.rewrite(metric, labels) : labels;
  }

  /** One request on the HTTP API (app -> sidecar). */
  recordHttpServer(method: string | undefined, rawPath: string, status: number, elapsedMs: number, requestBytes: number, responseBytes: number): void {
    const m = this.method(method);
    const path = this.serverLabeler.label(rawPath);
    const st = String(status);
    const ms = Math.floor(elapsedMs);
    if (this.settings.rules.size > 0) {
      this.httpServerCount.inc(this.labels('dapr_http_server_request_count', { method: m, path, status: st }));
      this.httpServerLatency.observe(this.labels('dapr_http_server_latency', { method: m, path, status: st }), ms);
      this.httpServerResponseCount?.inc(this.labels('dapr_http_server_response_count', { method: m, path, status: st }));
    } else {
      const key = `${m} ${st} ${path}`;
      let c = this.serverChildren.get(key);
      if (!c) {
        const l = { method: m, path, status: st };
        c = { count: this.httpServerCount.labels(l), latency: this.httpServerLatency.labels(l), response: this.httpServerResponseCount?.labels(l) };
        this.serverChildren.set(key, c);
      }
      c.count.inc();
      c.latency.observe(ms);
      c.response?.inc();
    }
    if (requestBytes > 0) this.httpServerRequestBytes.observe(requestBytes);
    this.httpServerResponseBytes.observe(responseBytes);
  }

  /**
   * One rpc on the gRPC API: `method` is the full path (`/dapr.proto.runtime.v1.Dapr/GetState`),
   * `status` Go's name of the code (`OK`, `NotFound`...). (Dapr's *_bytes_per_rpc are not recorded.)
   */
  recordGrpcServer(method: string, status: string, elapsedMs: number): void {
    const ms = Math.floor(elapsedMs);
    if (this.settings.rules.size > 0) {
      this.grpcServerCompleted.inc(this.labels('dapr_grpc_io_server_completed_rpcs', { grpc_server_method: method, grpc_server_status: status }));
      this.grpcServerLatency.observe(this.labels('dapr_grpc_io_server_server_latency', { grpc_server_method: method, grpc_server_status: status }), ms);
    } else {
      const c = this.cachedPair(this.grpcChildren, `${method} ${status}`, this.grpcServerCompleted, this.grpcServerLatency, () => ({ grpc_server_method: method, grpc_server_status: status }));
      c.count.inc();
      c.latency.observe(ms);
    }
  }

  /** One call from the sidecar to its app over HTTP; a transport failure is status 500. */
  recordHttpClient(method: string | undefined, rawPath: string, status: number, elapsedMs: number, sentBytes: number, receivedBytes: number): void {
    const m = this.method(method);
    const path = this.clientLabeler.label(rawPath);
    const st = String(status);
    if (this.settings.rules.size > 0) {
      this.httpClientCount.inc(this.labels('dapr_http_client_completed_count', { method: m, path, status: st }));
      this.httpClientLatency.observe(this.labels('dapr_http_client_roundtrip_latency', { method: m, path, status: st }), Math.floor(elapsedMs));
      this.httpClientSentBytes.observe(this.labels('dapr_http_client_sent_bytes', { method: m, path, status: '' }), sentBytes);
    } else {
      const key = `${m} ${st} ${path}`;
      let c = this.clientChildren.get(key);
      if (!c) {
        const l = { method: m, path, status: st };
        c = { count: this.httpClientCount.labels(l), latency: this.httpClientLatency.labels(l), sent: this.httpClientSentBytes.labels({ method: m, path, status: '' }) };
        this.clientChildren.set(key, c);
      }
      c.count.inc();
      c.latency.observe(Math.floor(elapsedMs));
      c.sent.observe(sentBytes);
    }
    this.httpClientReceivedBytes.observe(receivedBytes);
  }

  /** One app health probe; a transport failure is status 500. */
  recordHealthProbe(status: number, elapsedMs: number): void {
    const st = String(status);
    this.healthProbeCount.inc({ status: st });
    this.healthProbeLatency.observe({ status: st }, Math.floor(elapsedMs));
  }

  recordComponent(kind: ComponentMetricKind, component: string, operation: string, success: boolean, elapsedMs: number): void {
    const count = this.componentCount.get(kind);
    if (!count) return;
    const base: Labels = { component, namespace: this.ns, success: String(success) };
    if (kind !== 'input_binding' && kind !== 'conversation') base.operation = operation;
    count.inc(this.labels(`dapr_component_${kind}_count`, { ...base }));
    this.componentLatency.get(kind)!.observe(this.labels(`dapr_component_${kind}_latencies`, { ...base }), elapsedMs);
  }

  recordPublish(component: string, topic: string, success: boolean, elapsedMs: number): void {
    if (this.settings.rules.size === 0) {
      // Per message: cached children, as on the HTTP path (prom-client hashes a label object per call).
      const key = `${success ? 't' : 'f'}${component}\u0000${topic}`;
      const c = this.cachedPair(this.egressChildren, key, this.egressCount, this.egressLatency, () => ({ component, namespace: this.ns, success: String(success), topic }));
      c.count.inc();
      c.latency.observe(elapsedMs);
      return;
    }
    const l = { component, namespace: this.ns, success: String(success), topic };
    this.egressCount.inc(this.labels('dapr_component_pubsub_egress_count', { ...l }));
    this.egressLatency.observe(this.labels('dapr_component_pubsub_egress_latencies', { ...l }), elapsedMs);
  }

  recordDelivery(component: string, topic: string, processStatus: PubsubProcessStatus, status: PubsubProcessStatus, elapsedMs: number): void {
    if (this.settings.rules.size === 0) {
      const key = `${processStatus}\u0000${status}\u0000${component}\u0000${topic}`;
      const c = this.cachedPair(this.ingressChildren, key, this.ingressCount, this.ingressLatency, () => ({ component, namespace: this.ns, process_status: processStatus, topic, status }));
      c.count.inc();
      if (elapsedMs > 0) c.latency.observe(elapsedMs);
      return;
    }
    const l = { component, namespace: this.ns, process_status: processStatus, topic, status };
    this.ingressCount.inc(this.labels('dapr_component_pubsub_ingress_count', { ...l }));
    if (elapsedMs > 0) this.ingressLatency.observe(this.labels('dapr_component_pubsub_ingress_latencies', { ...l }), elapsedMs);
  }

  recordComponentInit(type: string, name: string, error?: string): void {
    if (error === undefined) {
      this.componentLoaded.inc();
      this.componentInit.inc({ component: type });
    } else {
      this.componentInitFail.inc({ component: type, reason: error, componentName: name });
    }
  }

  /** Caller side of a remote invocation. */
  recordInvocationSent(dstAppId: string, streaming: boolean): void {
    this.invReqSent.inc({ dst_app_id: dstAppId, type: streaming ? 'streaming' : 'unary' });
  }

  /** Caller side: the callee's answer (Dapr names the label src_app_id though it is the callee). */
  recordInvocationResponse(calleeAppId: string, status: number, streaming: boolean, elapsedMs: number): void {
    const st = String(status);
    this.invResRecv.inc({ src_app_id: calleeAppId, status: st, type: streaming ? 'streaming' : 'unary' });
    this.invResRecvLatency.observe({ src_app_id: calleeAppId, status: st }, elapsedMs);
  }

  /** Callee side of a remote invocation. */
  recordInvocationReceived(callerAppId: string): void {
    this.invReqRecv.inc({ src_app_id: callerAppId });
  }

  /** Callee side: the answer sent back (Dapr names the label dst_app_id though it is the caller). */
  recordInvocationAnswered(callerAppId: string, status: number): void {
    this.invResSent.inc({ dst_app_id: callerAppId, status: String(status) });
  }

  recordErrorCode(code: string, category: string): void {
    this.errorCodes?.inc({ error_code: code, category });
  }
}
