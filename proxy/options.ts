// The sidecar's settings, merged and validated once by cli/options.ts, then frozen.
import type { LogLevel } from '../telemetry/logging.js';

export interface AppHealthOptions {
  enabled: boolean;
  path: string;
  intervalMs: number;
  timeoutMs: number;
  threshold: number;
}

/** Sidecar-to-sidecar mutual TLS (--enable-mtls and the env vars daprd reads). */
export interface MtlsOptions {
  /** --enable-mtls; Configuration spec.mtls.enabled turns it on too. */
  enabled: boolean;
  /** --sentry-address host:port (default localhost:50001 when mTLS is on). */
  sentryAddress?: string;
  /** DAPR_TRUST_ANCHORS (PEM); else BULWARK_HOME/certs/ca.crt. */
  trustAnchors?: string;
  /** DAPR_CERT_CHAIN / DAPR_CERT_KEY: used only when they hold a workload SVID, never an issuer. */
  certChain?: string;
  certKey?: string;
  /** DAPR_SENTRY_TOKEN_FILE; else BULWARK_HOME/certs/sentry.token when present. */
  sentryTokenFile?: string;
  /** SENTRY_LOCAL_IDENTITY: the id asked for instead of the app id. */
  localIdentity?: string;
  /** DAPR_CONTROLPLANE_TRUST_DOMAIN (default localhost) and DAPR_CONTROLPLANE_NAMESPACE (default default). */
  controlPlaneTrustDomain: string;
  controlPlaneNamespace: string;
}

/** HTTPS on the public fronting listener (bulwark's flags; Dapr has no public TLS). */
export interface PublicTlsOptions {
  certFile: string;
  keyFile: string;
  /** Client certificates are required and must chain to these anchors. */
  clientCaFile?: string;
}

export interface SidecarOptions {
  mtls?: MtlsOptions;
  publicTls?: PublicTlsOptions;
  appId: string;
  /** 0 or undefined: no app channel. */
  appPort?: number;
  appProtocol: 'http';
  appChannelAddress: string;
  /** Address the API listeners bind to. */
  listenAddress: string;
  /** 0 picks a free port. */
  httpPort: number;
  grpcPort: number;
  metricsPort: number;
  enableMetrics: boolean;
  internalPort: number;
  publicPort?: number;
  resourcesPaths: readonly string[];
  /** Use the embedded default components when no resources path is given. */
  embeddedDefaults: boolean;
  configFiles: readonly string[];
  logLevel: LogLevel;
  logAsJson: boolean;
  enableApiLogging: boolean;
  appHealth: AppHealthOptions;
  /** -1: unlimited. */
  appMaxConcurrency: number;
  maxBodyBytes: number;
  gracefulShutdownMs: number;
  apiToken?: string;
  appApiToken?: string;
  namespace?: string;
  /** BULWARK_HOME. */
  homeDir: string;
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  /** Facts recorded under `extended` in metadata (cliPID, appCommand, runTemplatePath...). */
  extended: Record<string, string>;
  /** Where sidecar log lines go (default: stderr). */
  logSink?: (line: string) => void;
}
