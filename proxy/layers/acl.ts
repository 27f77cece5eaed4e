// Access control on the called side (Configuration spec.accessControl), before the app is
// called. The method is normalised here once and the request is rewritten to that same path,
// so what was authorised is exactly what the app receives (CVE-2026-41491). A denial is
// Dapr's 403 ERR_DIRECT_INVOKE, which the calling sidecar relays to its app. Each decision is
// counted as daprd counts it (dapr_runtime_acl_{app,global}_policy_action_{allowed,blocked}_total).
import { DaprError } from '../../core/errors.js';
import type { Layer } from '../../core/http.js';
import { evaluateAcl, type AccessControl } from '../../security/acl.js';
import { peerIdentity } from '../../security/tls.js';
import type { DaprSecurityMetrics } from '../../telemetry/metrics/security-metrics.js';
import { normaliseMethod } from '../invoke/target.js';

export function aclLayer(acl: AccessControl | undefined, appId: string, metrics?: DaprSecurityMetrics): Layer | null {
  if (!acl) return null;
  return (next) => (ex) => {
    const caller = peerIdentity(ex.req.socket);
    const verb = ex.req.method ?? 'GET';
    const method = normaliseMethod(ex.path, appId);
    const decision = evaluateAcl(acl, caller, method, verb);
    metrics?.aclDecision(decision.allowed, decision.level, caller);
    if (!decision.allowed) {
      throw new DaprError(
        'invokeForbidden',
        `failed to invoke, id: ${appId}, err: access control policy has denied access to id: ${caller?.uri ?? ''} operation: ${decision.operation.slice(1)} verb: ${verb}`,
      );
    }
    ex.req.url = ex.rawQuery ? `${method}?${ex.rawQuery}` : method;
    return next(ex);
  };
}
