// Configuration (`--config`): decoded as daprd decodes a standalone file, with yaml.v3 rules:
// field names are case-sensitive and `$VAR` / `${VAR}` are expanded from the environment first.
// Several files apply in order over the built-in defaults.
import { readFileSync } from 'node:fs';
import { Cursor, isObject, type Obj } from './decode.js';
import { parseGoDuration } from './duration.js';
import { ResourceError } from './resource-error.js';
import { readYamlDocuments } from './yaml-file.js';

export interface ApiRule {
  name: string;
  version: string;
  protocol: 'http' | 'grpc';
}

export interface SecretScope {
  storeName: string;
  defaultAccess: 'allow' | 'deny';
  allowedSecrets: string[];
  deniedSecrets: string[];
}

export interface Configuration {
  name: string;
  /** Raw sections that their own modules decode (telemetry, security, proxy). */
  tracing: Obj;
  metric: Obj;
  logging: Obj;
  accessControl: Obj;
  nameResolution: Obj;
  mtls: Obj;
  workflow: Obj;
  httpPipeline: Obj;
  appHttpPipeline: Obj;
  /** Forward-proxy pass-through rules (bulwark's own section; see proxy/invoke/forward-proxy.ts). */
  proxy: Obj;
  api: { allowed: ApiRule[]; denied: ApiRule[] };
  secretScopes: SecretScope[];
  features: Map<string, boolean>;
  componentsDeny: string[];
  /** Files it came from, in order. */
  files: string[];
}

export function defaultConfiguration(): Configuration {
  return {
    name: 'default',
    tracing: { otel: { isSecure: true } },
    metric: { enabled: true },
    logging: {},
    accessControl: {},
    nameResolution: {},
    mtls: {},
    workflow: {},
    httpPipeline: {},
    appHttpPipeline: {},
    proxy: {},
    api: { allowed: [], denied: [] },
    secretScopes: [],
    features: new Map([['HotReload', true]]),
    componentsDeny: [],
    files: [],
  };
}

/** Expands `$VAR` and `${VAR}` as Go's os.ExpandEnv does (unset -> empty). */
export function expandEnv(text: string, env: Readonly<Record<string, string | undefined>>): string {
  return text.replace(/\$(?:\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_m, braced: string | undefined, bare: string | undefined) => env[braced ?? bare ?? ''] ?? '');
}

export function loadConfigurations(files: readonly string[], env: Readonly<Record<string, string | undefined>>): Configuration {
  const cfg = defaultConfiguration();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ResourceError(file, 0, '', `cannot read configuration file: ${(err as Error).message}`, { cause: err });
    }
    const docs = readYamlDocuments(file, expandEnv(text, env));
    const found = docs.filter((d) => isObject(d.value) && (d.value as Obj).kind === 'Configuration');
    if (found.length === 0) throw new ResourceError(file, 0, 'kind', 'no document of kind Configuration in this file');
    for (const d of found) applyConfiguration(cfg, new Cursor(file, d.doc, '', false), d.value as Obj);
    cfg.files.push(file);
  }
  return Object.freeze(cfg);
}

function applyConfiguration(cfg: Configuration, c: Cursor, doc: Obj): void {
  if (doc.apiVersion !== 'dapr.io/v1alpha1') c.at('apiVersion').fail(`Configuration needs apiVersion dapr.io/v1alpha1, got ${String(doc.apiVersion)}`);
  const meta = c.object(doc, 'metadata');
  const name = meta ? c.at('metadata').string(meta, 'name') : undefined;
  if (name) cfg.name = name;
  const spec = c.object(doc, 'spec') ?? {};
  const s = c.at('spec');
  const section = (key: string): Obj | undefined => s.object(spec, key);
  cfg.tracing = { ...cfg.tracing, ...(section('tracing') ?? {}) };
  // `metrics` is accepted too and wins field by field.
  cfg.metric = { ...cfg.metric, ...(section('metric') ?? {}), ...(section('metrics') ?? {}) };
  for (const key of ['logging', 'accessControl', 'nameResolution', 'mtls', 'workflow', 'httpPipeline', 'appHttpPipeline', 'proxy'] as const) {
    const v = section(key);
    if (v) cfg[key] = v;
  }
  const workflow = section('workflow');
  if (workflow) checkRetention(s.at('workflow'), workflow);
  const api = section('api');
  if (api) {
    const a = s.at('api');
    cfg.api = { allowed: apiRules(a.at('allowed'), a.array(api, 'allowed')), denied: apiRules(a.at('denied'), a.array(api, 'denied')) };
  }
  const secrets = section('secrets');
  if (secrets) cfg.secretScopes = secretScopes(s.at('secrets'), secrets);
  s.array(spec, 'features').forEach((f, i) => {
    const at: Cursor = s.at('features').at(i);
    if (!isObject(f)) at.fail('must be a mapping with name and enabled');
    cfg.features.set(at.string(f, 'name', true)!, at.bool(f, 'enabled') ?? false);
  });
  const components = section('components');
  if (components) cfg.componentsDeny = s.at('components').strings(components, 'deny');
}

/** spec.workflow.stateRetentionPolicy: Go durations, checked here so a bad one names its file and field. */
function checkRetention(c: Cursor, workflow: Obj): void {
  const policy = c.object(workflow, 'stateRetentionPolicy');
  if (!policy) return;
  const at = c.at('stateRetentionPolicy');
  for (const f of ['anyTerminal', 'completed', 'failed', 'terminated']) {
    const v = at.string(policy, f);
    if (v === undefined || v === '') continue;
    const ms = parseGoDuration(v);
    if (ms === undefined || ms < 0) at.at(f).fail(`must be a duration such as "72h" or "30m", got ${JSON.stringify(v)}`);
  }
}

// A rule without `protocol` is ignored by both servers, as in Dapr.
function apiRules(c: Cursor, list: unknown[]): ApiRule[] {
  const out: ApiRule[] = [];
  list.forEach((raw, i) => {
    const at: Cursor = c.at(i);
    if (!isObject(raw)) at.fail('must be a mapping with name, version and protocol');
    const protocol = at.string(raw, 'protocol');
    const rule = { name: at.string(raw, 'name', true)!, version: at.string(raw, 'version', true)! };
    if (!protocol) return;
    if (protocol !== 'http' && protocol !== 'grpc') at.at('protocol').fail(`must be http or grpc, got ${protocol}`);
    out.push({ ...rule, protocol: protocol as ApiRule['protocol'] });
  });
  return out;
}

function secretScopes(c: Cursor, secrets: Obj): SecretScope[] {
  const seen = new Set<string>();
  return c.array(secrets, 'scopes').map((raw, i) => {
    const at: Cursor = c.at('scopes').at(i);
    if (!isObject(raw)) at.fail('must be a mapping');
    const storeName = at.string(raw, 'storeName', true)!;
    if (seen.has(storeName)) at.at('storeName').fail(`secret store ${storeName} is scoped twice`);
    seen.add(storeName);
    const access = (at.string(raw, 'defaultAccess') ?? 'allow').toLowerCase();
    if (access !== 'allow' && access !== 'deny') at.at('defaultAccess').fail(`must be allow or deny, got ${access}`);
    return {
      storeName,
      defaultAccess: access as SecretScope['defaultAccess'],
      allowedSecrets: at.strings(raw, 'allowedSecrets'),
      deniedSecrets: at.strings(raw, 'deniedSecrets'),
    };
  });
}
