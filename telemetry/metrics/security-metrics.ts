// Dapr's mTLS and access-control counters (dapr_runtime_mtls_*, dapr_runtime_acl_*) on the
// sidecar's registry. The mTLS series carry the sidecar's own app_id (the registry default);
// the ACL series carry the *caller's* app_id, trustDomain and namespace from its SPIFFE ID, as
// daprd records them, so their count is bounded by the callers that reach this sidecar.
import { Counter, type Registry } from './prom.js';

/** Who called, as the ACL saw it (absent without mTLS: the labels are empty). */
export interface AclCaller {
  appId: string;
  trustDomain: string;
  namespace: string;
}

type CounterChild = ReturnType<Counter<string>['labels']>;

export class DaprSecurityMetrics {
  private readonly mtlsInit: Counter<string>;
  private readonly mtlsInitFail: Counter<string>;
  private readonly rotated: Counter<string>;
  private readonly rotatedFail: Counter<string>;
  /** [app allowed, app blocked, global allowed, global blocked]. */
  private readonly acl: ReadonlyArray<Counter<string>>;
  private readonly aclChildren = new Map<string, CounterChild>();

  constructor(registry: Registry) {
    const counter = (name: string, help: string, labelNames: string[]): Counter<string> => new Counter({ name, help, labelNames, registers: [registry] });
    this.mtlsInit = counter('dapr_runtime_mtls_init_total', 'The number of successful mTLS authenticator initialization.', []);
    this.mtlsInitFail = counter('dapr_runtime_mtls_init_fail_total', 'The number of mTLS authenticator init failures.', ['reason']);
    this.rotated = counter('dapr_runtime_mtls_workload_cert_rotated_total', 'The number of the successful workload certificate rotations.', []);
    this.rotatedFail = counter('dapr_runtime_mtls_workload_cert_rotated_fail_total', 'The number of the failed workload certificate rotations.', ['reason']);
    const caller = ['app_id', 'trustDomain', 'namespace'];
    this.acl = [
      counter('dapr_runtime_acl_app_policy_action_allowed_total', 'The number of requests allowed by the app specific action specified in the access control policy.', caller),
      counter('dapr_runtime_acl_app_policy_action_blocked_total', 'The number of requests blocked by the app specific action specified in the access control policy.', caller),
      counter('dapr_runtime_acl_global_policy_action_allowed_total', 'The number of requests allowed by the global action specified in the access control policy.', caller),
      counter('dapr_runtime_acl_global_policy_action_blocked_total', 'The number of requests blocked by the global action specified in the access control policy.', caller),
    ];
  }

  mtlsInitialized(): void {
    this.mtlsInit.inc();
  }

  mtlsInitFailed(reason: string): void {
    this.mtlsInitFail.inc({ reason });
  }

  certificateRotated(): void {
    this.rotated.inc();
  }

  certificateRotationFailed(reason: string): void {
    this.rotatedFail.inc({ reason });
  }

  /** One access-control decision; `level` is the default that applied (Dapr's action policy). */
  aclDecision(allowed: boolean, level: 'app' | 'global', caller: AclCaller | undefined): void {
    const i = (level === 'app' ? 0 : 2) + (allowed ? 0 : 1);
    const key = caller ? `${i} ${caller.appId} ${caller.trustDomain} ${caller.namespace}` : `${i}`;
    let c = this.aclChildren.get(key);
    if (!c) {
      c = this.acl[i]!.labels({ app_id: caller?.appId ?? '', trustDomain: caller?.trustDomain ?? '', namespace: caller?.namespace ?? '' });
      this.aclChildren.set(key, c);
    }
    c.inc();
  }
}
