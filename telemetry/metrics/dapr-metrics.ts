// Dapr's sidecar metric families on a prom-client registry: names, types, labels and buckets as
// daprd serves them (no `_total` appended; latencies in whole milliseconds; `app_id` is the
// registry's default label). One method per thing that happens. The families are plain series
// (./series.ts): each record finds its cells once per label set, through a cache keyed by the
// label values, and then only adds numbers. spec.metric.rules rewrite a label set once, when its
// cells are made.
import type { Registry } from './prom.js';
import type { ComponentMetricKind, PubsubProcessStatus } from '../../core/telemetry.js';
import { PathLabeler } from './path-label.js';
import { CounterFamily, HistogramFamily, type CounterCell, type HistogramCell, type Labels } from './series.js';
import { SIZE_BUCKETS, type MetricsSettings } from './settings.js';

const METHODS = new Set(['GET', 'PUT', 'POST', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'CONNECT', 'TRACE']);

interface ServerCells {
  count: CounterCell;
  latency: HistogramCell;
  response: CounterCell | undefined;
}

interface ClientCells {
  count: CounterCell;
  latency: HistogramCell;
  sent: HistogramCell;
}

interface CountAndLatency {
  count: CounterCell;
  latency: HistogramCell;
}

export class DaprMetrics {
  private readonly serverLabeler: PathLabeler;
  private readonly clientLabeler: PathLabeler;
  private readonly serverCells = new Map<string, ServerCells>();
  private readonly clientCells = new Map<string, ClientCells>();
  private readonly ns: string;

  private readonly httpServerRequestBytes: HistogramCell;
  private readonly httpServerResponseBytes: HistogramCell;
  private readonly httpClientReceivedBytes: HistogramCell;
  private readonly httpServerCount: CounterFamily;
  private readonly httpServerLatency: HistogramFamily;
  private readonly httpServerResponseCount: CounterFamily | undefined;
  private readonly httpClientCount: CounterFamily;
  private readonly httpClientLatency: HistogramFamily;
  private readonly httpClientSentBytes: HistogramFamily;
  private readonly healthProbeCount: CounterFamily;
  private readonly healthProbeLatency: HistogramFamily;
  private readonly componentCount = new Map<ComponentMetricKind, CounterFamily>();
  private readonly componentLatency = new Map<ComponentMetricKind, HistogramFamily>();
  private readonly egressCount: CounterFamily;
  private readonly egressLatency: HistogramFamily;
  private readonly ingressCount: CounterFamily;
  private readonly ingressLatency: HistogramFamily;
  private readonly componentLoaded: CounterCell;
  private readonly componentInit: CounterFamily;
  private readonly componentInitFail: CounterFamily;
  private readonly invReqSent: CounterFamily;
  private readonly invReqRecv: CounterFamily;
  private readonly invResSent: CounterFamily;
  private readonly invResRecv: CounterFamily;
  private readonly invResRecvLatency: HistogramFamily;
  private readonly errorCodes: CounterFamily | undefined;
  private readonly grpcServerCompleted: CounterFamily;
  private readonly grpcServerLatency: HistogramFamily;
  private readonly componentCells = new Map<string, CountAndLatency>();
  private readonly egressCells = new Map<string, CountAndLatency>();
  private readonly ingressCells = new Map<string, CountAndLatency>();
  private readonly grpcCells = new Map<string, CountAndLatency>();
  private readonly healthCells = new Map<number, CountAndLatency>();
  private readonly invSentCells = new Map<string, CounterCell>();
  private readonly invRecvCells = new Map<string, CountAndLatency>();
  private readonly invReceivedCells = new Map<string, CounterCell>();
  private readonly invAnsweredCells = new Map<string, CounterCell>();

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
    const rewrite = settings.rules.size > 0 ? (metric: string, labels: Labels) => this.rewrite(metric, labels) : undefined;
    const counter = (name: string, help: string, labelNames: string[]): CounterFamily => new CounterFamily(name, help, labelNames, rewrite).register(registry);
    const histogram = (name: string, help: string, labelNames: string[], buckets: number[]): HistogramFamily =>
      new HistogramFamily(name, help, labelNames, buckets, rewrite).register(registry);
    const mps = ['method', 'path', 'status'];

    this.httpServerCount = counter('dapr_http_server_request_count', 'Number of HTTP requests started in server.', mps);
    this.httpServerLatency = histogram('dapr_http_server_latency', 'HTTP request end-to-end latency in server (ms).', mps, lat);
    this.httpServerRequestBytes = histogram('dapr_http_server_request_bytes', 'HTTP request size in bytes (Content-Length) in server.', [], SIZE_BUCKETS).cell({});
    this.httpServerResponseBytes = histogram('dapr_http_server_response_bytes', 'HTTP response size in bytes in server.', [], SIZE_BUCKETS).cell({});
    this.httpServerResponseCount = settings.increasedCardinality
      ? counter('dapr_http_server_response_count', 'The number of HTTP responses', mps)
      : undefined;
    this.httpClientCount = counter('dapr_http_client_completed_count', 'Count of completed requests to the app.', mps);
    this.httpClientLatency = histogram('dapr_http_client_roundtrip_latency', 'Time between first byte of request headers sent to last byte of response received (ms).', mps, lat);
    this.httpClientSentBytes = histogram('dapr_http_client_sent_bytes', 'Total bytes sent in request body (not including headers).', mps, SIZE_BUCKETS);
    this.httpClientReceivedBytes = histogram('dapr_http_client_received_bytes', 'Total bytes received in response bodies (not including headers).', [], SIZE_BUCKETS).cell({});

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

    this.componentLoaded = counter('dapr_runtime_component_loaded', 'The number of successfully loaded components.', []).cell({});
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

  /** A counter's and a histogram's cells for one label set, looked up once per `key` (label values joined). */
  private cachedPair<K>(cache: Map<K, CountAndLatency>, key: K, count: CounterFamily, latency: HistogramFamily, labels: () => Labels): CountAndLatency {
    return cached(cache, key, () => {
      const l = labels();
      return { count: count.cell(l), latency: latency.cell(l) };
    });
  }

  /** The cells of one HTTP label set (method, labelled path, status), made once per key. */
  private httpCells<C>(cache: Map<string, C>, labeler: PathLabeler, method: string | undefined, rawPath: string, status: number, make: (l: Labels) => C): C {
    const m = this.method(method);
    const path = labeler.label(rawPath);
    const key = `${m} ${status} ${path}`;
    let c = cache.get(key);
    if (!c) {
      c = make({ method: m, path, status: String(status) });
      cache.set(key, c);
    }
    return c;
  }

  private readonly makeServerCells = (l: Labels): ServerCells => ({
    count: this.httpServerCount.cell(l),
    latency: this.httpServerLatency.cell(l),
    response: this.httpServerResponseCount?.cell(l),
  });

  private readonly makeClientCells = (l: Labels): ClientCells => ({
    count: this.httpClientCount.cell(l),
    latency: this.httpClientLatency.cell(l),
    sent: this.httpClientSentBytes.cell({ method: l.method!, path: l.path!, status: '' }),
  });

  /** Applies `spec.metric.rules` for `metric` to a new label set. */
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

  /** One request on the HTTP API (app -> sidecar). */
  recordHttpServer(method: string | undefined, rawPath: string, status: number, elapsedMs: number, requestBytes: number, responseBytes: number): void {
    const c = this.httpCells(this.serverCells, this.serverLabeler, method, rawPath, status, this.makeServerCells);
    c.count.inc();
    c.latency.observe(Math.floor(elapsedMs));
    c.response?.inc();
    if (requestBytes > 0) this.httpServerRequestBytes.observe(requestBytes);
    this.httpServerResponseBytes.observe(responseBytes);
  }

  /**
   * One rpc on the gRPC API: `method` is the full path (`/dapr.proto.runtime.v1.Dapr/GetState`),
   * `status` Go's name of the code (`OK`, `NotFound`...). (Dapr's *_bytes_per_rpc are not recorded.)
   */
  recordGrpcServer(method: string, status: string, elapsedMs: number): void {
    const c = this.cachedPair(this.grpcCells, `${method} ${status}`, this.grpcServerCompleted, this.grpcServerLatency, () => ({ grpc_server_method: method, grpc_server_status: status }));
    c.count.inc();
    c.latency.observe(Math.floor(elapsedMs));
  }

  /** One call from the sidecar to its app over HTTP; a transport failure is status 500. */
  recordHttpClient(method: string | undefined, rawPath: string, status: number, elapsedMs: number, sentBytes: number, receivedBytes: number): void {
    const c = this.httpCells(this.clientCells, this.clientLabeler, method, rawPath, status, this.makeClientCells);
    c.count.inc();
    c.latency.observe(Math.floor(elapsedMs));
    c.sent.observe(sentBytes);
    this.httpClientReceivedBytes.observe(receivedBytes);
  }

  /** One app health probe; a transport failure is status 500. */
  recordHealthProbe(status: number, elapsedMs: number): void {
    const c = this.cachedPair(this.healthCells, status, this.healthProbeCount, this.healthProbeLatency, () => ({ status: String(status) }));
    c.count.inc();
    c.latency.observe(Math.floor(elapsedMs));
  }

  recordComponent(kind: ComponentMetricKind, component: string, operation: string, success: boolean, elapsedMs: number): void {
    const count = this.componentCount.get(kind);
    if (!count) return;
    const key = `${kind}\u0000${success ? 't' : 'f'}${component}\u0000${operation}`;
    const c = this.cachedPair(this.componentCells, key, count, this.componentLatency.get(kind)!, () => {
      const l: Labels = { component, namespace: this.ns, success: String(success) };
      if (kind !== 'input_binding' && kind !== 'conversation') l.operation = operation;
      return l;
    });
    c.count.inc();
    c.latency.observe(elapsedMs);
  }

  recordPublish(component: string, topic: string, success: boolean, elapsedMs: number): void {
    const key = `${success ? 't' : 'f'}${component}\u0000${topic}`;
    const c = this.cachedPair(this.egressCells, key, this.egressCount, this.egressLatency, () => ({ component, namespace: this.ns, success: String(success), topic }));
    c.count.inc();
    c.latency.observe(elapsedMs);
  }

  recordDelivery(component: string, topic: string, processStatus: PubsubProcessStatus, status: PubsubProcessStatus, elapsedMs: number): void {
    const key = `${processStatus}\u0000${status}\u0000${component}\u0000${topic}`;
    const c = this.cachedPair(this.ingressCells, key, this.ingressCount, this.ingressLatency, () => ({ component, namespace: this.ns, process_status: processStatus, topic, status }));
    c.count.inc();
    if (elapsedMs > 0) c.latency.observe(elapsedMs);
  }

  recordComponentInit(type: string, name: string, error?: string): void {
    if (error === undefined) {
      this.componentLoaded.inc();
      this.componentInit.cell({ component: type }).inc();
    } else {
      this.componentInitFail.cell({ component: type, reason: error, componentName: name }).inc();
    }
  }

  /** Caller side of a remote invocation. */
  recordInvocationSent(dstAppId: string, streaming: boolean): void {
    const type = streaming ? 'streaming' : 'unary';
    cached(this.invSentCells, `${dstAppId}\u0000${type}`, () => this.invReqSent.cell({ dst_app_id: dstAppId, type })).inc();
  }

  /** Caller side: the callee's answer (Dapr names the label src_app_id though it is the callee). */
  recordInvocationResponse(calleeAppId: string, status: number, streaming: boolean, elapsedMs: number): void {
    const type = streaming ? 'streaming' : 'unary';
    const c = cached(this.invRecvCells, `${calleeAppId}\u0000${status}\u0000${type}`, () => {
      const st = String(status);
      return { count: this.invResRecv.cell({ src_app_id: calleeAppId, status: st, type }), latency: this.invResRecvLatency.cell({ src_app_id: calleeAppId, status: st }) };
    });
    c.count.inc();
    c.latency.observe(elapsedMs);
  }

  /** Callee side of a remote invocation. */
  recordInvocationReceived(callerAppId: string): void {
    cached(this.invReceivedCells, callerAppId, () => this.invReqRecv.cell({ src_app_id: callerAppId })).inc();
  }

  /** Callee side: the answer sent back (Dapr names the label dst_app_id though it is the caller). */
  recordInvocationAnswered(callerAppId: string, status: number): void {
    cached(this.invAnsweredCells, `${callerAppId}\u0000${status}`, () => this.invResSent.cell({ dst_app_id: callerAppId, status: String(status) })).inc();
  }

  recordErrorCode(code: string, category: string): void {
    this.errorCodes?.cell({ error_code: code, category }).inc();
  }
}

/** The value kept under `key`, made on first use (the request path's way to its metric cells). */
function cached<K, V>(cache: Map<K, V>, key: K, make: () => V): V {
  let v = cache.get(key);
  if (v === undefined) {
    v = make();
    cache.set(key, v);
  }
  return v;
}
