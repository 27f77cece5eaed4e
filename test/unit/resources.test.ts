// Decoding Dapr resources exactly as daprd does (spec/resources.md sections 1-3).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ComponentRegistry } from '../../components/registry.js';
import { expandEnv, loadConfigurations } from '../../resources/configuration.js';
import { retentionPolicy } from '../../core/workflow/retention.js';
import { formatGoDuration, parseGoDuration, parseMetadataDuration } from '../../resources/duration.js';
import { loadResources } from '../../resources/load.js';
import { resolveMetadata } from '../../resources/resolve.js';
import { writeFolder } from '../helpers/processes.js';

const load = (files: Record<string, string>, appId = 'app1', namespace?: string) =>
  loadResources([writeFolder(files)], { appId, ...(namespace ? { namespace } : {}) });

describe('component decoding', () => {
  it('matches field names case-insensitively and stringifies values as Go JSON does', () => {
    const set = load({
      'c.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  Name: store
Spec:
  TYPE: state.redis
  Version: v1
  initTimeout: 1m
  ignoreErrors: yes
  metadata:
  - name: num
    value: 10
  - name: bool
    value: on
  - name: float
    value: 1.0
  - name: obj
    value: {a: 1}
  - name: str
    value: "on"
  - name: none
`,
    });
    const c = set.components[0]!;
    expect(c).toMatchObject({ name: 'store', type: 'state.redis', version: 'v1', initTimeoutMs: 60_000, ignoreErrors: true });
    expect(Object.fromEntries(c.metadata.map((m) => [m.name, m.value]))).toEqual({ num: '10', bool: 'true', float: '1', obj: '{"a":1}', str: 'on', none: undefined });
  });

  it('keeps folder, file and document order and skips non-YAML files and foreign kinds', () => {
    const comp = (n: string) => `apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: ${n}\nspec:\n  type: state.in-memory\n`;
    const set = load({
      'b.yaml': comp('b1') + '---\n' + comp('b2'),
      'a.yml': comp('a1') + '---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n',
      'notes.txt': 'not yaml',
    });
    expect(set.components.map((c) => c.name)).toEqual(['a1', 'b1', 'b2']);
    expect(set.warnings.some((w) => w.includes('notes.txt'))).toBe(true);
    expect(set.warnings.some((w) => w.includes('apps/v1'))).toBe(true);
  });

  it('filters by scopes and, only when NAMESPACE is set, by namespace', () => {
    const files = {
      'c.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: mine
  namespace: prod
spec:
  type: state.in-memory
scopes: [app1]
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: theirs
spec:
  type: state.in-memory
scopes: [app2]
`,
    };
    expect(load(files).components.map((c) => c.name)).toEqual(['mine']);
    expect(load(files, 'app1', 'dev').components).toEqual([]);
    expect(load(files, 'app2', 'prod').components.map((c) => c.name)).toEqual(['theirs']);
  });

  it('refuses a component type outside Dapr categories, naming the field', () => {
    expect(() => load({ 'x.yaml': 'apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: n\nspec:\n  type: nameresolution.mdns\n' })).toThrow(
      /x\.yaml, document 1, field spec\.type: incorrect type nameresolution\.mdns/,
    );
  });

  it('refuses invalid names and duplicate metadata keys', () => {
    expect(() => load({ 'x.yaml': 'apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: a/b\nspec:\n  type: state.in-memory\n' })).toThrow(/field metadata\.name: invalid name/);
    expect(() =>
      load({ 'x.yaml': 'apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: a\nspec:\n  type: state.in-memory\n  metadata:\n  - name: Key\n    value: 1\n  - name: key\n    value: 2\n' }),
    ).toThrow(/field spec\.metadata\[1\]\.name: metadata key key is duplicate/);
  });
});

describe('other kinds', () => {
  it('decodes Subscription v1alpha1 route as the default path and v2alpha1 rules', () => {
    const set = load({
      's.yaml': `apiVersion: dapr.io/v1alpha1
kind: Subscription
metadata:
  name: old
spec:
  pubsubName: pubsub
  topic: orders
  route: /orders
  metadata:
    rawPayload: "true"
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: new
spec:
  pubsubname: pubsub
  topic: orders
  routes:
    rules:
    - match: event.type == "big"
      path: /big
    default: /orders
  deadLetterTopic: dead
  bulkSubscribe:
    enabled: true
    maxMessagesCount: 10
`,
    });
    expect(set.subscriptions[0]).toMatchObject({ name: 'old', pubsubname: 'pubsub', topic: 'orders', rules: [], defaultPath: '/orders', metadata: { rawPayload: 'true' } });
    expect(set.subscriptions[1]).toMatchObject({ name: 'new', rules: [{ match: 'event.type == "big"', path: '/big' }], defaultPath: '/orders', deadLetterTopic: 'dead', bulkSubscribe: { enabled: true, maxMessagesCount: 10 } });
  });

  it('decodes HTTPEndpoint and refuses a base URL without a scheme', () => {
    const ep = (url: string) => `apiVersion: dapr.io/v1alpha1\nkind: HTTPEndpoint\nmetadata:\n  name: gh\nspec:\n  baseUrl: ${url}\n  headers:\n  - name: Accept\n    value: json\n`;
    expect(load({ 'e.yaml': ep('https://api.example.com') }).httpEndpoints[0]).toMatchObject({ name: 'gh', baseUrl: 'https://api.example.com', headers: [{ name: 'Accept', value: 'json' }] });
    expect(() => load({ 'e.yaml': ep('api.example.com') })).toThrow(/field spec\.baseUrl: must be an absolute URL/);
  });
});

describe('metadata resolution', () => {
  const target = { origin: { file: 'f.yaml', doc: 1 }, field: 'spec.metadata', secretStore: 'vault' };
  const ctx = {
    appId: 'orders',
    env: { HOST: 'h1', DAPR_API_TOKEN: 'no', APP_API_TOKEN: 'no' },
    getSecret: async (store: string, name: string) => (name === 'db' ? { password: `pw-from-${store}` } : Promise.reject(new Error('secret not found'))),
  };

  it('applies envRef (never to DAPR_ or APP_API_TOKEN), secretKeyRef and template tags', async () => {
    const out = await resolveMetadata(
      [
        { name: 'host', envRef: 'HOST' },
        { name: 'token', envRef: 'DAPR_API_TOKEN' },
        { name: 'app', envRef: 'APP_API_TOKEN' },
        { name: 'pw', secretKeyRef: { name: 'db', key: 'password' } },
        { name: 'ids', value: '{uuid}/{uuid}' },
        { name: 'ns', value: '{namespace}:{appID}' },
      ],
      target,
      ctx,
    );
    expect(out).toMatchObject({ host: 'h1', token: '', app: '', pw: 'pw-from-vault', ns: 'default.orders:orders' });
    const [a, b] = out.ids!.split('/');
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(a).not.toBe(b);
  });

  it('names the item when a secret is missing or {podName} has no POD_NAME', async () => {
    await expect(resolveMetadata([{ name: 'x', value: 'a' }, { name: 'pw', secretKeyRef: { name: 'nope', key: 'k' } }], target, ctx)).rejects.toThrow(
      /f\.yaml, document 1, field spec\.metadata\[1\]\.secretKeyRef\.name: secret nope from store vault: secret not found/,
    );
    await expect(resolveMetadata([{ name: 'pw', secretKeyRef: { name: 'db', key: 'user' } }], target, ctx)).rejects.toThrow(/secretKeyRef\.key: secret db in store vault has no key user/);
    await expect(resolveMetadata([{ name: 'p', value: '{podName}' }], target, ctx)).rejects.toThrow(/POD_NAME/);
    await expect(resolveMetadata([{ name: 'pw', secretKeyRef: { name: 'db', key: 'password' } }], { ...target, secretStore: undefined }, ctx)).rejects.toThrow(/names no auth\.secretStore/);
  });
});

describe('configuration', () => {
  it('expands $VAR and ${VAR}, reads keys case-sensitively, merges files in order', () => {
    const dir = writeFolder({
      'a.yaml': `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: first
spec:
  tracing:
    samplingRate: "$RATE"
    zipkin:
      endpointAddress: "http://\${ZHOST}:9411/api/v2/spans"
  metric:
    enabled: true
  metrics:
    enabled: false
  api:
    allowed:
    - name: state
      version: v1.0
      protocol: http
    - name: publish
      version: v1.0
  features:
  - name: HotReload
    enabled: false
  - name: ActorStateTTL
    enabled: true
  Secrets:
    scopes:
    - storeName: ignored-because-case
`,
      'b.yaml': 'apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: second\nspec:\n  components:\n    deny: [bindings.smtp]\n',
    });
    const cfg = loadConfigurations([join(dir, 'a.yaml'), join(dir, 'b.yaml')], { RATE: '0.5', ZHOST: 'zipkin' });
    expect(cfg.name).toBe('second');
    expect(cfg.tracing).toMatchObject({ samplingRate: '0.5', zipkin: { endpointAddress: 'http://zipkin:9411/api/v2/spans' } });
    expect(cfg.metric.enabled).toBe(false);
    // A rule without protocol is ignored, as in Dapr.
    expect(cfg.api.allowed).toEqual([{ name: 'state', version: 'v1.0', protocol: 'http' }]);
    expect(cfg.features.get('HotReload')).toBe(false);
    expect(cfg.features.get('ActorStateTTL')).toBe(true);
    expect(cfg.secretScopes).toEqual([]);
    expect(cfg.componentsDeny).toEqual(['bindings.smtp']);
  });

  it('names the field of a bad secret scope', () => {
    const dir = writeFolder({ 'c.yaml': 'apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: c\nspec:\n  secrets:\n    scopes:\n    - storeName: s\n      defaultAccess: maybe\n' });
    expect(() => loadConfigurations([join(dir, 'c.yaml')], {})).toThrow(/c\.yaml, document 1, field spec\.secrets\.scopes\[0\]\.defaultAccess: must be allow or deny/);
  });

  it('reads the workflow retention policy and names a value that is not a duration', () => {
    const doc = (v: string): string => `apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: w\nspec:\n  workflow:\n    stateRetentionPolicy:\n      anyTerminal: "360h"\n      completed: "${v}"\n`;
    const dir = writeFolder({ 'ok.yaml': doc('1m'), 'bad.yaml': doc('soon') });
    const policy = retentionPolicy(loadConfigurations([join(dir, 'ok.yaml')], {}).workflow)!;
    expect(policy.retainFor('COMPLETED')).toBe(60_000);
    expect(policy.retainFor('FAILED')).toBe(360 * 3_600_000);
    expect(policy.retainFor('TERMINATED')).toBe(360 * 3_600_000);
    expect(retentionPolicy(loadConfigurations([], {}).workflow)).toBeUndefined();
    expect(() => loadConfigurations([join(dir, 'bad.yaml')], {})).toThrow(/bad\.yaml, document 1, field spec\.workflow\.stateRetentionPolicy\.completed: must be a duration/);
  });

  it('expands like os.ExpandEnv: unset is empty', () => {
    expect(expandEnv('a$X-${Y}-$Z', { X: '1', Y: '2' })).toBe('a1-2-');
  });
});

describe('durations', () => {
  it('parses Go durations and metadata integers as seconds', () => {
    expect(parseGoDuration('1h30m')).toBe(5_400_000);
    expect(parseGoDuration('1.5s')).toBe(1500);
    expect(parseGoDuration('500ms')).toBe(500);
    expect(parseGoDuration('-2m')).toBe(-120_000);
    expect(parseGoDuration('10')).toBeUndefined();
    expect(parseGoDuration('1x')).toBeUndefined();
    expect(parseMetadataDuration('10')).toBe(10_000);
    expect(formatGoDuration(5000)).toBe('5s');
    expect(formatGoDuration(500)).toBe('500ms');
    expect(formatGoDuration(90_000)).toBe('1m30s');
  });
});

describe('component registry', () => {
  it('looks up <type>/<version> first, then the unversioned type for initial versions, case-insensitively', async () => {
    const v1 = async () => ({ features: ['v1'] });
    const v2 = async () => ({ features: ['v2'] });
    const reg = new ComponentRegistry().register('state', ['state.postgresql', 'state.postgres'], v1).register('state', ['state.postgresql/v2'], v2);
    expect(reg.lookup('State.PostgreSQL', '')?.factory).toBe(v1);
    expect(reg.lookup('state.postgres', 'v1')?.factory).toBe(v1);
    expect(reg.lookup('state.postgresql', 'v2')?.factory).toBe(v2);
    expect(reg.lookup('state.postgresql', 'v3')).toBeUndefined();
  });
});
