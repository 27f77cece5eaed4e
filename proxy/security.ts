// The sidecar's security wiring, built once at start-up: the access control list, the
// workload certificate (from the sentry, or static SVID files) with its renewal, and the TLS
// of the internal and public listeners. The composition root passes `inbound` to invocation.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { Logger } from '../core/component.js';
import type { Configuration } from '../resources/configuration.js';
import { isTruthy } from '../resources/decode.js';
import { ResourceError } from '../resources/resource-error.js';
import { AclError, parseAccessControl } from '../security/acl.js';
import { CA_FILES } from '../security/ca.js';
import { DEFAULT_NAMESPACE, DEFAULT_TRUST_DOMAIN } from '../security/identity.js';
import { DEFAULT_SENTRY_PORT } from '../security/sentry-protocol.js';
import { requestCertificate, sentryFailureReason } from '../security/sentry-client.js';
import { ReloadingTls } from '../security/reloading-tls.js';
import type { MtlsContext } from '../security/tls.js';
import { WorkloadCertificate, type RotationEvents } from '../security/workload.js';
import type { DaprSecurityMetrics } from '../telemetry/metrics/security-metrics.js';
import type { InboundSecurity } from './invoke/service.js';
import { aclLayer } from './layers/acl.js';
import { mtlsIdentityLayer } from './layers/mtls-identity.js';
import type { SidecarOptions } from './options.js';

export const SENTRY_TOKEN_FILE = 'sentry.token';

export interface SidecarSecurity {
  inbound: InboundSecurity;
  /** Our workload identity for calls to peers (undefined: plaintext). */
  peer: MtlsContext | undefined;
  close(): void;
}

export async function startSecurity(options: SidecarOptions, configuration: Configuration, logger: Logger, metrics?: DaprSecurityMetrics): Promise<SidecarSecurity> {
  const configFile = configuration.files.at(-1) ?? '(configuration)';
  let parsed;
  try {
    parsed = parseAccessControl(configuration.accessControl, options.appProtocol === 'http');
  } catch (err) {
    if (err instanceof AclError) throw new ResourceError(configFile, 0, err.field, err.message);
    throw err;
  }
  for (const w of parsed.warnings) logger.warn(w);
  const events: RotationEvents | undefined = metrics && {
    rotated: () => metrics.certificateRotated(),
    rotationFailed: (err) => metrics.certificateRotationFailed(sentryFailureReason(err)),
  };
  let workload: WorkloadCertificate | undefined;
  try {
    workload = await startWorkload(options, configuration, parsed.acl?.trustDomain ?? DEFAULT_TRUST_DOMAIN, logger, events);
  } catch (err) {
    metrics?.mtlsInitFailed(sentryFailureReason(err));
    throw err;
  }
  if (workload) metrics?.mtlsInitialized();
  if (!workload && parsed.acl && parsed.acl.policies.size > 0) {
    logger.warn('accessControl has policies but mTLS is off: callers have no verified identity, so only the global defaultAction applies (as in Dapr)');
  }
  if (!workload) logger.info('mTLS is off: the internal sidecar-to-sidecar port is plaintext and unauthenticated (keep it on loopback, or use --enable-mtls)');
  const ctx = workload?.context;
  const inbound: InboundSecurity = {
    mtls: ctx ? mtlsIdentityLayer() : null,
    aclLayer: aclLayer(parsed.acl, options.appId, metrics),
    ...(ctx ? { internalTls: ctx } : {}),
    ...(options.publicTls ? { publicTls: new ReloadingTls(options.publicTls, logger) } : {}),
  };
  return { inbound, peer: ctx, close: () => workload?.close() };
}

async function startWorkload(
  options: SidecarOptions,
  configuration: Configuration,
  trustDomain: string,
  logger: Logger,
  events: RotationEvents | undefined,
): Promise<WorkloadCertificate | undefined> {
  const m = options.mtls;
  // Dapr's CLI turns `spec.mtls.enabled: true` into --enable-mtls --sentry-address localhost:50001.
  const e = configuration.mtls.enabled;
  const byConfig = e === true || (typeof e === 'string' && isTruthy(e));
  if (!m?.enabled && !byConfig) return undefined;
  const certsDir = join(options.homeDir, 'certs');
  const anchorsFile = join(certsDir, CA_FILES.anchors);
  const anchors = m?.trustAnchors ?? (existsSync(anchorsFile) ? readFileSync(anchorsFile, 'utf8') : undefined);
  if (!anchors) throw new Error(`mTLS is on but there are no trust anchors: set DAPR_TRUST_ANCHORS or run \`bulwark cert init\` (writes ${anchorsFile})`);
  const log = { info: (s: string) => logger.info(s), warn: (s: string) => logger.warn(s) };
  if (Boolean(m?.certChain) !== Boolean(m?.certKey)) logger.warn('DAPR_CERT_CHAIN and DAPR_CERT_KEY go together; the one given alone is ignored');
  if (m?.certChain && m.certKey) {
    const leaf = new X509Certificate(m.certChain);
    if (!leaf.ca) return WorkloadCertificate.start({ certChain: m.certChain, key: m.certKey, anchors }, log, events);
    logger.warn('DAPR_CERT_CHAIN/DAPR_CERT_KEY hold a CA (issuer) certificate: ignored, a sidecar never holds an issuer key; asking the sentry instead (Dapr >= 1.12 does the same)');
  }
  const address = m?.sentryAddress ?? (typeof configuration.mtls.sentryAddress === 'string' ? configuration.mtls.sentryAddress : `localhost:${DEFAULT_SENTRY_PORT}`);
  const tokenFile = m?.sentryTokenFile ?? join(certsDir, SENTRY_TOKEN_FILE);
  const secret = existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined;
  if (m?.sentryTokenFile && secret === undefined) throw new Error(`DAPR_SENTRY_TOKEN_FILE ${m.sentryTokenFile} does not exist`);
  const request = (): ReturnType<typeof requestCertificate> =>
    requestCertificate({
      address,
      anchors,
      controlPlaneTrustDomain: m?.controlPlaneTrustDomain ?? 'localhost',
      controlPlaneNamespace: m?.controlPlaneNamespace ?? DEFAULT_NAMESPACE,
      id: m?.localIdentity ?? options.appId,
      namespace: options.namespace ?? DEFAULT_NAMESPACE,
      trustDomain,
      secret,
    });
  // The first certificate is worth waiting for (a sentry started beside the sidecars may not
  // listen yet): retried for up to 30 s unless the sentry refuses for good (4xx).
  let first = true;
  const source = async (): ReturnType<typeof requestCertificate> => {
    if (!first) return request();
    first = false;
    const deadline = Date.now() + FIRST_CERTIFICATE_WAIT_MS;
    for (;;) {
      try {
        return await request();
      } catch (err) {
        const cause = (err as Error).cause as { permanent?: boolean } | undefined;
        if (cause?.permanent || Date.now() > deadline) throw err;
        logger.warn(`${(err as Error).message}; retrying`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  };
  return WorkloadCertificate.start(source, log, events);
}

const FIRST_CERTIFICATE_WAIT_MS = 30_000;
