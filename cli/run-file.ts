// `bulwark run -f <file|folder>`: the Dapr CLI's multi-app run template (`dapr.yaml`,
// version 1) run unchanged. Relative paths in `common` resolve against the run file's folder,
// paths of an app against its appDirPath; each sidecar and app runs with cwd = appDirPath.
import { createWriteStream, existsSync, mkdirSync, statSync, type WriteStream } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Cursor, isObject, type Obj } from '../resources/decode.js';
import { ResourceError } from '../resources/resource-error.js';
import { readYamlDocuments } from '../resources/yaml-file.js';
import { UsageError, type FlagValues } from './args.js';
import { freePort } from './free-port.js';
import { launch, type Launched } from './launch.js';
import { buildSidecarOptions } from './options.js';
import { forwardSignals } from './run.js';

export interface RunFileApp {
  appId: string;
  appDirPath: string;
  command: string[];
  env: Record<string, string>;
  settings: FlagValues;
  appLogDestination: 'file' | 'console' | 'fileAndConsole';
  daprdLogDestination: 'file' | 'console' | 'fileAndConsole';
}

export interface RunFile {
  path: string;
  name: string;
  apps: RunFileApp[];
}

// Run-file keys (case-sensitive, from the Dapr CLI's struct tags) -> our flag names.
const SHARED: Record<string, string> = {
  appProtocol: 'app-protocol', logLevel: 'log-level', appMaxConcurrency: 'app-max-concurrency',
  placementHostAddress: 'placement-host-address', schedulerHostAddress: 'scheduler-host-address',
  maxBodySize: 'max-body-size', enableAppHealthCheck: 'enable-app-health-check',
  appHealthCheckPath: 'app-health-check-path', appHealthProbeInterval: 'app-health-probe-interval',
  appHealthProbeTimeout: 'app-health-probe-timeout', appHealthThreshold: 'app-health-threshold',
  enableApiLogging: 'enable-api-logging', apiListenAddresses: 'dapr-listen-addresses',
};
const PER_APP: Record<string, string> = {
  appID: 'app-id', appChannelAddress: 'app-channel-address', appPort: 'app-port', daprHTTPPort: 'dapr-http-port',
  daprGRPCPort: 'dapr-grpc-port', daprInternalGRPCPort: 'dapr-internal-grpc-port', metricsPort: 'metrics-port',
  publicPort: 'public-port',
};
const INT_FLAGS = new Set(['app-port', 'dapr-http-port', 'dapr-grpc-port', 'dapr-internal-grpc-port', 'metrics-port', 'public-port', 'app-max-concurrency', 'app-health-probe-interval', 'app-health-probe-timeout', 'app-health-threshold']);
const DESTINATIONS = ['file', 'console', 'fileAndConsole'] as const;

export function resolveRunFilePath(given: string, cwd: string): string {
  const p = resolve(cwd, given);
  if (existsSync(p) && statSync(p).isDirectory()) {
    for (const name of ['dapr.yaml', 'dapr.yml']) if (existsSync(join(p, name))) return join(p, name);
    throw new UsageError(`run file: no dapr.yaml in folder ${p}`);
  }
  if (!existsSync(p)) throw new UsageError(`run file ${p} does not exist`);
  return p;
}

export function readRunFile(path: string, homeDir: string): RunFile {
  const docs = readYamlDocuments(path);
  const doc = docs[0]?.value;
  const c = new Cursor(path, 1, '', false);
  if (!isObject(doc)) return c.fail('a run file must be a mapping with version and apps');
  const version = c.get(doc, 'version');
  if (version !== 1 && version !== '1') c.at('version').fail(`must be 1, got ${JSON.stringify(version)}`);
  const base = dirname(path);
  const common = c.object(doc, 'common') ?? {};
  const commonSettings = settingsOf(c.at('common'), common, base);
  const commonEnv = envOf(c.at('common'), common);
  const apps = c.array(doc, 'apps');
  if (apps.length === 0) c.at('apps').fail('needs at least one app');
  const seen = new Set<string>();
  const list = apps.map((raw, i): RunFileApp => {
    const a: Cursor = c.at('apps').at(i);
    if (!isObject(raw)) return a.fail('must be a mapping');
    const dirText = a.string(raw, 'appDirPath', true)!;
    const appDirPath = resolve(base, dirText);
    if (!existsSync(appDirPath) || !statSync(appDirPath).isDirectory()) a.at('appDirPath').fail(`folder ${appDirPath} does not exist`);
    const own = settingsOf(a, raw, appDirPath);
    const settings: FlagValues = { ...commonSettings };
    for (const [k, v] of Object.entries(own)) if (v !== undefined && v !== '' && v !== 0 && v !== false) settings[k] = v;
    const appId = (settings['app-id'] as string | undefined) ?? basename(appDirPath);
    settings['app-id'] = appId;
    if (seen.has(appId)) a.at('appID').fail(`app id ${appId} appears twice in the run file`);
    seen.add(appId);
    // Resources and config precedence: the app's own, then <appDirPath>/.dapr, then common, then BULWARK_HOME.
    if (!own['resources-path']) {
      const local = join(appDirPath, '.dapr', 'resources');
      if (existsSync(local)) settings['resources-path'] = [local];
    }
    if (!own.config) {
      const local = join(appDirPath, '.dapr', 'config.yaml');
      if (existsSync(local)) settings.config = [local];
    }
    void homeDir;
    const command = a.strings(raw, 'command');
    const dest = (key: string, dflt: RunFileApp['appLogDestination']): RunFileApp['appLogDestination'] => {
      const v = a.string(raw, key) ?? (common[key] as string | undefined) ?? dflt;
      if (!(DESTINATIONS as readonly string[]).includes(v)) a.at(key).fail(`must be file, console or fileAndConsole, got ${v}`);
      return v as RunFileApp['appLogDestination'];
    };
    return {
      appId,
      appDirPath,
      command,
      env: { ...commonEnv, ...envOf(a, raw) },
      settings,
      appLogDestination: dest('appLogDestination', 'fileAndConsole'),
      daprdLogDestination: dest('daprdLogDestination', 'file'),
    };
  });
  return { path, name: c.string(doc, 'name') ?? basename(dirname(path)), apps: list };
}

function settingsOf(c: Cursor, obj: Obj, base: string): FlagValues {
  const out: FlagValues = {};
  for (const [key, flag] of Object.entries({ ...SHARED, ...PER_APP })) {
    const v = c.get(obj, key);
    if (v === undefined || v === null) continue;
    if (typeof v === 'boolean') out[flag] = v;
    else if (INT_FLAGS.has(flag)) {
      const n = Number(v);
      if (!Number.isInteger(n)) c.at(key).fail(`must be an integer, got ${JSON.stringify(v)}`);
      out[flag] = n;
    } else out[flag] = String(v);
  }
  const paths = [...c.strings(obj, 'resourcesPaths'), ...(c.string(obj, 'resourcesPath') ? [c.string(obj, 'resourcesPath')!] : [])];
  if (paths.length > 0) out['resources-path'] = paths.map((p) => resolve(base, p));
  const config = c.string(obj, 'configFilePath');
  if (config) out.config = [resolve(base, config)];
  return out;
}

function envOf(c: Cursor, obj: Obj): Record<string, string> {
  const env = c.object(obj, 'env');
  if (!env) return {};
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

export async function runFileMain(given: string, env: NodeJS.ProcessEnv): Promise<number> {
  const path = resolveRunFilePath(given, process.cwd());
  let file: RunFile;
  try {
    file = readRunFile(path, '');
  } catch (err) {
    if (err instanceof ResourceError) throw new UsageError(err.message);
    throw err;
  }
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const launched: Launched[] = [];
  const logs: WriteStream[] = [];
  try {
    for (const app of file.apps) {
      const logDir = join(app.appDirPath, '.dapr', 'logs');
      mkdirSync(logDir, { recursive: true });
      const appLogPath = join(logDir, `${app.appId}_app_${stamp}.log`);
      const daprdLogPath = join(logDir, `${app.appId}_daprd_${stamp}.log`);
      const flags: FlagValues = { ...app.settings };
      if (flags['app-port'] === undefined && app.command.length > 0) flags['app-port'] = await freePort();
      // The sidecar binds a free gRPC port itself; the app learns it from DAPR_GRPC_PORT.
      if (flags['dapr-grpc-port'] === undefined) flags['dapr-grpc-port'] = 0;
      const options = buildSidecarOptions({
        flags,
        env: { ...env, ...app.env },
        cwd: app.appDirPath,
        defaults: { httpPort: 0, metricsPort: 0 },
        extended: { cliPID: String(process.pid), runTemplatePath: path, runTemplateName: file.name, appLogPath, daprdLogPath },
      });
      const appOut: NodeJS.WritableStream[] = [];
      if (app.appLogDestination !== 'console') {
        const s = createWriteStream(appLogPath, { flags: 'a' });
        logs.push(s);
        appOut.push(s);
      }
      if (app.appLogDestination !== 'file') appOut.push(process.stdout);
      const sidecarLog = app.daprdLogDestination === 'console' ? undefined : createWriteStream(daprdLogPath, { flags: 'a' });
      if (sidecarLog) logs.push(sidecarLog);
      options.logSink = (line: string) => {
        sidecarLog?.write(line + '\n');
        if (app.daprdLogDestination !== 'file') process.stderr.write(line + '\n');
      };
      launched.push(await launch({ options, command: app.command, cwd: app.appDirPath, env: app.env, appOutput: appOut as never, prefix: `== APP - ${app.appId} == ` }));
    }
  } catch (err) {
    await Promise.all(launched.map((l) => l.stop('SIGTERM')));
    throw err;
  }
  forwardSignals(launched);
  // The run ends when every app has ended; one app's end does not stop the others.
  const codes = await Promise.all(launched.map((l) => l.done));
  for (const s of logs) s.end();
  return codes.find((c) => c !== 0) ?? 0;
}
