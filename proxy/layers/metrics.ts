// Dapr's HTTP server metrics (dapr_http_server_*) for the API listener. It runs before the
// API-token check, as in Dapr, so rejected requests are counted too. Absent when metrics are off.
import { DaprError } from '../../core/errors.js';
import type { Exchange, Layer } from '../../core/http.js';
import type { DaprMetrics } from '../../telemetry/metrics/dapr-metrics.js';

export function metricsLayer(metrics: DaprMetrics | undefined): Layer | null {
  if (!metrics) return null;
  return (next) => async (ex) => {
    const started = performance.now();
    try {
      await next(ex);
    } finally {
      const req = ex.req;
      const res = ex.res;
      const responseBytes = Number(res.getHeader('content-length') ?? 0) || 0;
      metrics.recordHttpServer(req.method, ex.path, res.statusCode, performance.now() - started, Number(req.headers['content-length'] ?? 0) || 0, responseBytes);
    }
  };
}

/**
 * The called side of a remote invocation (internal listener): dapr_runtime_service_invocation_
 * req_recv_total and res_sent_total, labelled with the calling app id the peer sidecar stamped.
 * Dapr's label names are kept: `src_app_id` on requests received, `dst_app_id` (the caller) on
 * responses sent.
 */
export function inboundMetricsLayer(metrics: DaprMetrics | undefined): Layer | null {
  if (!metrics) return null;
  return (next) => {
    const counted = async (ex: Exchange, caller: string): Promise<void> => {
      metrics.recordInvocationReceived(caller);
      try {
        await next(ex);
      } finally {
        metrics.recordInvocationAnswered(caller, ex.res.statusCode);
      }
    };
    // Not async itself: a fronted request (no calling sidecar) passes with no extra promise.
    return (ex) => {
      const caller = ex.header('dapr-caller-app-id');
      return caller ? counted(ex, caller) : next(ex);
    };
  };
}

/**
 * `spec.metric.recordErrorCodes`: dapr_error_code_total per Dapr error code, with the API group
 * as category. Sits just inside the rescue layer, where errors are still thrown DaprErrors.
 */
export function errorCodeLayer(metrics: DaprMetrics | undefined, enabled: boolean): Layer | null {
  if (!metrics || !enabled) return null;
  return (next) => async (ex) => {
    try {
      await next(ex);
    } catch (err) {
      const code = err instanceof DaprError ? err.code : 'ERR_INTERNAL';
      metrics.recordErrorCode(code, ex.path.split('/')[2] ?? '');
      throw err;
    }
  };
}
