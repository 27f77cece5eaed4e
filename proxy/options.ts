// The sidecar's settings, merged and validated once by cli/options.ts, then frozen.
import type { LogLevel } from '../telemetry/logging.js';

export interface AppHealthOptions {
  enabled: boolean;
  path: string;
  intervalMs: number;
  timeoutMs: number;
  threshold: number;
}

export interface SidecarOptions {
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
