// The one place that merges flags, environment, run file and defaults (in that precedence) into
// the sidecar's typed, validated, frozen options. Nothing else reads process.env.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { SidecarOptions } from '../proxy/options.js';
import { isLogLevel, type LogLevel } from '../telemetry/logging.js';
import { UsageError, type FlagSpec, type FlagValues } from './args.js';

export const SIDECAR_FLAGS: Readonly<Record<string, FlagSpec>> = {
  'app-id': { type: 'string', short: 'a' },
  'app-port': { type: 'int', short: 'p' },
  'app-protocol': { type: 'string', short: 'P' },
  'app-channel-address': { type: 'string' },
  'dapr-http-port': { type: 'int', short: 'H' },
  'dapr-grpc-port': { type: 'int', short: 'G' },
  'dapr-internal-grpc-port': { type: 'int', short: 'I', aliases: ['internal-port'] },
  'public-port': { type: 'int', aliases: ['dapr-public-port'] },
  'metrics-port': { type: 'int', short: 'M' },
  'enable-metrics': { type: 'boolean' },
  'resources-path': { type: 'string', multiple: true, aliases: ['components-path'], short: 'd' },
  config: { type: 'string', short: 'c', multiple: true },
  'log-level': { type: 'string' },
  'log-as-json': { type: 'boolean' },
  'enable-api-logging': { type: 'boolean' },
  'enable-app-health-check': { type: 'boolean' },
  'app-health-check-path': { type: 'string' },
  'app-health-probe-interval': { type: 'int' },
  'app-health-probe-timeout': { type: 'int' },
  'app-health-threshold': { type: 'int' },
  'app-max-concurrency': { type: 'int' },
  'dapr-http-max-request-size': { type: 'int' },
  'max-body-size': { type: 'string' },
  'dapr-graceful-shutdown-seconds': { type: 'int' },
  'dapr-listen-addresses': { type: 'string' },
  'placement-host-address': { type: 'string' },
  'scheduler-host-address': { type: 'string' },
  'enable-mtls': { type: 'boolean' },
  'sentry-address': { type: 'string' },
  'public-tls-cert-file': { type: 'string' },
  'public-tls-key-file': { type: 'string' },
  'public-tls-client-ca-file': { type: 'string' },
  'unix-domain-socket': { type: 'string', short: 'u' },
};

/** Flags the Dapr CLI has that we accept and ignore, with the reason logged. */
export const IGNORED_FLAGS: Readonly<Record<string, string>> = {
  'placement-host-address': 'actor placement needs no separate service in bulwark',
  'scheduler-host-address': 'bulwark needs no separate scheduler service',
};

export function bulwarkHome(env: Readonly<Record<string, string | undefined>>): string {
  return resolve(env.BULWARK_HOME || join(homedir(), '.bulwark'));
}

/** Settings a run file can give an app; flag names as keys, already resolved to absolute paths. */
export type RunFileSettings = FlagValues;

export interface BuildInput {
  flags: FlagValues;
  /** Values from a run file (lower precedence than flags). */
  runFile?: RunFileSettings;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Defaults that differ by command (a run file picks free ports). */
  defaults?: Partial<{ httpPort: number; metricsPort: number; grpcPort: number }>;
  extended?: Record<string, string>;
}

export function buildSidecarOptions(input: BuildInput): SidecarOptions {
  const { env } = input;
  const get = (name: string): FlagValues[string] => input.flags[name] ?? input.runFile?.[name];
  const str = (name: string): string | undefined => {
    const v = get(name);
    return v === undefined ? undefined : String(v);
  };
  const int = (name: string, dflt: number, min = -1, max = Number.MAX_SAFE_INTEGER): number => {
    const v = get(name);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name}: expected an integer from ${min} to ${max}, got ${String(v)}`);
    return n;
  };
  const port = (name: string, dflt: number): number => int(name, dflt, 0, 65535);
  const bool = (name: string): boolean => get(name) === true || get(name) === 'true';

  const appId = str('app-id');
  if (!appId) throw new UsageError('--app-id is required');
  if (appId.includes('.')) throw new UsageError(`--app-id ${appId}: dots are not allowed in an app id`);
  const protocol = str('app-protocol') ?? 'http';
  if (protocol !== 'http') {
    throw new UsageError(`--app-protocol ${protocol}: only http is supported so far (https, grpc, grpcs and h2c are not yet)`);
  }
  if (str('unix-domain-socket')) throw new UsageError('--unix-domain-socket is not supported yet: the APIs listen on TCP');
  const level = (str('log-level') ?? 'info').toLowerCase();
  if (!isLogLevel(level)) throw new UsageError(`--log-level ${level}: expected debug, info, warn, error or fatal`);

  const homeDir = bulwarkHome(env);
  const explicitPaths = (get('resources-path') as string[] | undefined) ?? [];
  const defaultComponents = join(homeDir, 'components');
  const resourcesPaths = explicitPaths.length > 0 ? explicitPaths.map((p) => resolve(input.cwd, p)) : existsSync(defaultComponents) ? [defaultComponents] : [];
  const explicitConfig = (get('config') as string[] | undefined) ?? [];
  const defaultConfig = join(homeDir, 'config.yaml');
  const configFiles = explicitConfig.length > 0 ? explicitConfig.map((p) => resolve(input.cwd, p)) : existsSync(defaultConfig) ? [defaultConfig] : [];

  let maxBodyBytes = 4 * 1024 * 1024;
  if (get('dapr-http-max-request-size') !== undefined) maxBodyBytes = int('dapr-http-max-request-size', 4, 1) * 1024 * 1024;
  if (str('max-body-size') !== undefined) maxBodyBytes = parseQuantity(str('max-body-size')!, '--max-body-size');

  const listen = str('dapr-listen-addresses') ?? '127.0.0.1';
  const appPort = port('app-port', 0);
  const opts: SidecarOptions = {
    appId,
    appProtocol: 'http',
    appChannelAddress: str('app-channel-address') ?? '127.0.0.1',
    listenAddress: listen.split(',')[0]!.trim(),
    httpPort: port('dapr-http-port', input.defaults?.httpPort ?? 3500),
    grpcPort: port('dapr-grpc-port', input.defaults?.grpcPort ?? 50001),
    metricsPort: port('metrics-port', input.defaults?.metricsPort ?? 9090),
    enableMetrics: get('enable-metrics') === undefined ? true : bool('enable-metrics'),
    internalPort: port('dapr-internal-grpc-port', 0),
    resourcesPaths,
    embeddedDefaults: explicitPaths.length === 0,
    configFiles,
    logLevel: level as LogLevel,
    logAsJson: bool('log-as-json'),
    enableApiLogging: bool('enable-api-logging'),
    appHealth: {
      enabled: bool('enable-app-health-check'),
      path: str('app-health-check-path') ?? '/healthz',
      intervalMs: int('app-health-probe-interval', 5, 1) * 1000,
      timeoutMs: int('app-health-probe-timeout', 500, 1),
      threshold: int('app-health-threshold', 3, 1),
    },
    appMaxConcurrency: int('app-max-concurrency', -1),
    maxBodyBytes,
    gracefulShutdownMs: int('dapr-graceful-shutdown-seconds', 5, 0) * 1000,
    homeDir,
    cwd: input.cwd,
    env,
    extended: { ...(input.extended ?? {}) },
  };
  if (appPort > 0) opts.appPort = appPort;
  const publicPort = get('public-port');
  if (publicPort !== undefined) opts.publicPort = port('public-port', 0);
  if (env.DAPR_API_TOKEN) opts.apiToken = env.DAPR_API_TOKEN;
  if (env.APP_API_TOKEN) opts.appApiToken = env.APP_API_TOKEN;
  if (env.NAMESPACE) opts.namespace = env.NAMESPACE;
  const mtls = mtlsOptions(bool('enable-mtls'), str('sentry-address'), env);
  if (mtls) opts.mtls = mtls;
  const certFile = str('public-tls-cert-file');
  const keyFile = str('public-tls-key-file');
  const clientCa = str('public-tls-client-ca-file');
  if (certFile || keyFile || clientCa) {
    if (!certFile || !keyFile) throw new UsageError('--public-tls-cert-file and --public-tls-key-file go together');
    if (opts.publicPort === undefined) throw new UsageError('--public-tls-cert-file needs --public-port');
    opts.publicTls = { certFile: resolve(input.cwd, certFile), keyFile: resolve(input.cwd, keyFile), ...(clientCa ? { clientCaFile: resolve(input.cwd, clientCa) } : {}) };
  }
  return opts;
}

/** mTLS settings from the flag and daprd's environment variables (undefined: nothing set). */
function mtlsOptions(enabled: boolean, sentryAddress: string | undefined, env: Readonly<Record<string, string | undefined>>): SidecarOptions['mtls'] {
  const m: NonNullable<SidecarOptions['mtls']> = {
    enabled,
    controlPlaneTrustDomain: env.DAPR_CONTROLPLANE_TRUST_DOMAIN || 'localhost',
    controlPlaneNamespace: env.DAPR_CONTROLPLANE_NAMESPACE || 'default',
  };
  const address = sentryAddress ?? env.DAPR_SENTRY_ADDRESS;
  if (address) m.sentryAddress = address;
  if (env.DAPR_TRUST_ANCHORS) m.trustAnchors = env.DAPR_TRUST_ANCHORS;
  if (env.DAPR_CERT_CHAIN) m.certChain = env.DAPR_CERT_CHAIN;
  if (env.DAPR_CERT_KEY) m.certKey = env.DAPR_CERT_KEY;
  if (env.DAPR_SENTRY_TOKEN_FILE) m.sentryTokenFile = env.DAPR_SENTRY_TOKEN_FILE;
  if (env.SENTRY_LOCAL_IDENTITY) m.localIdentity = env.SENTRY_LOCAL_IDENTITY;
  return m;
}

/** Kubernetes quantities as Dapr's --max-body-size takes them: 4Mi, 512Ki, 1G, 100. */
export function parseQuantity(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|k|K|M|G|T)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag} ${text}: expected a size such as 4Mi, 512Ki or 1048576`);
  const mult: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Math.floor(Number(m[1]) * (m[2] ? mult[m[2]]! : 1));
}
