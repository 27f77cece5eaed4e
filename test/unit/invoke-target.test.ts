// How invocation targets and method paths are read: pure logic, no sockets.
import { describe, expect, it } from 'vitest';
import { DaprError } from '../../core/errors.js';
import { ForwardProxyRules } from '../../proxy/invoke/forward-proxy.js';
import { basicAuthAppId, normaliseMethod, parseTarget, splitInvokePath } from '../../proxy/invoke/target.js';
import { RESOLVERS } from '../../proxy/naming/index.js';
import { KubernetesResolver } from '../../proxy/naming/kubernetes-resolver.js';
import { createResolver } from '../../proxy/naming/resolver.js';
import { defaultConfiguration } from '../../resources/configuration.js';
import { ResourceError } from '../../resources/resource-error.js';

describe('parseTarget', () => {
  it('reads app ids, app.namespace, and http(s) URLs', () => {
    expect(parseTarget('orders')).toEqual({ kind: 'app', appId: 'orders', namespace: undefined, raw: 'orders' });
    expect(parseTarget('orders.prod')).toEqual({ kind: 'app', appId: 'orders', namespace: 'prod', raw: 'orders.prod' });
    expect(parseTarget('https://api.example.com:8443/v2/')).toEqual({ kind: 'url', baseUrl: 'https://api.example.com:8443/v2', raw: 'https://api.example.com:8443/v2/' });
  });

  it('refuses more than one dot and empty parts as ERR_DIRECT_INVOKE', () => {
    for (const bad of ['a.b.c', '.x', 'x.']) {
      expect(() => parseTarget(bad)).toThrow(DaprError);
    }
  });
});

describe('splitInvokePath', () => {
  it('splits at the first /method/ so URL targets with :// survive', () => {
    expect(splitInvokePath('/v1.0/invoke/orders/method/a/b')).toEqual({ target: 'orders', rawMethod: 'a/b' });
    expect(splitInvokePath('/v1.0/invoke/http://h:1/method/x/method/y')).toEqual({ target: 'http://h:1', rawMethod: 'x/method/y' });
    expect(splitInvokePath('/v1.0/invoke/http%3A%2F%2Fh%3A1/method/x')).toEqual({ target: 'http://h:1', rawMethod: 'x' });
    expect(splitInvokePath('/v1.0/invoke/orders/method')).toEqual({ target: 'orders', rawMethod: '' });
    expect(splitInvokePath('/v1.0/state/x')).toBeUndefined();
    expect(splitInvokePath('/v1.0/invoke/orders')).toBeUndefined();
  });
});

describe('normaliseMethod', () => {
  it('decodes, resolves dot segments without climbing above the root, and re-escapes', () => {
    expect(normaliseMethod('a/b/../c', 't')).toBe('/a/c');
    expect(normaliseMethod('..%2F..%2Fv1.0%2Fmetadata', 't')).toBe('/v1.0/metadata');
    expect(normaliseMethod('%2E%2E/%2E%2E/etc', 't')).toBe('/etc');
    expect(normaliseMethod('a//b/./c/', 't')).toBe('/a/b/c/');
    expect(normaliseMethod('http:%2F%2Fevil.example%2Fx', 't')).toBe('/http:/evil.example/x');
    expect(normaliseMethod('caf%C3%A9%20bar', 't')).toBe('/caf%C3%A9%20bar');
    expect(normaliseMethod('a+b@c:d', 't')).toBe('/a+b@c:d');
    expect(normaliseMethod('', 't')).toBe('/');
  });

  it('refuses control bytes, NUL, # and ? with an invalid-method ERR_DIRECT_INVOKE', () => {
    for (const bad of ['a%00b', 'a%0Ab', 'a%7Fb', 'a%23b', 'a%3Fb', '%E0%A4%A']) {
      let err: unknown;
      try {
        normaliseMethod(bad, 'orders');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DaprError);
      expect((err as DaprError).code).toBe('ERR_DIRECT_INVOKE');
      expect((err as DaprError).message).toMatch(/^failed to invoke, id: orders, err: invalid method/);
    }
  });
});

describe('basicAuthAppId', () => {
  it('takes the app id only from a dapr-app-id user, case-insensitively', () => {
    const basic = (s: string): string => 'Basic ' + Buffer.from(s).toString('base64');
    expect(basicAuthAppId(basic('dapr-app-id:orders'))).toBe('orders');
    expect(basicAuthAppId(basic('DAPR-APP-ID:orders'))).toBe('orders');
    expect(basicAuthAppId(basic('alice:secret'))).toBeUndefined();
    expect(basicAuthAppId('Bearer x')).toBeUndefined();
    expect(basicAuthAppId(undefined)).toBeUndefined();
  });
});

describe('ForwardProxyRules', () => {
  it('passes everything by default, and under deny only the allowed hosts', () => {
    expect(new ForwardProxyRules({}).allows('example.com')).toBe(true);
    const strict = new ForwardProxyRules({ passthrough: 'deny', allowedHosts: ['api.example.com', '*.internal'] });
    expect(strict.allows('api.example.com')).toBe(true);
    expect(strict.allows('API.example.com')).toBe(true);
    expect(strict.allows('db.internal')).toBe(true);
    expect(strict.allows('a.b.internal')).toBe(false);
    expect(strict.allows('example.com')).toBe(false);
    expect(new ForwardProxyRules({ deniedHosts: ['*.example.org'] }).allows('www.example.org')).toBe(false);
  });
});

describe('KubernetesResolver', () => {
  it("names the app's -dapr service in its namespace on the internal port", async () => {
    expect(await new KubernetesResolver({}).resolve('orders', 'shop')).toEqual([{ host: 'orders-dapr.shop.svc.cluster.local', port: 50002 }]);
    expect(await new KubernetesResolver({ clusterDomain: 'corp.local', port: 6000 }).resolve('orders', 'default')).toEqual([{ host: 'orders-dapr.default.svc.corp.local', port: 6000 }]);
  });

  it('follows a template with {{.ID}}, {{.Namespace}} and {{.Port}}', async () => {
    const r = new KubernetesResolver({ template: '{{.ID}}.{{.Namespace}}.mesh:{{.Port}}', port: 7000 });
    expect(await r.resolve('orders', 'shop')).toEqual([{ host: 'orders.shop.mesh', port: 7000 }]);
  });
});

describe('createResolver', () => {
  const logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };
  const ctx = { homeDir: '/nonexistent', logger };

  it('defaults to the local registry, takes mdns as its alias, and kubernetes by name', async () => {
    expect((await createResolver(defaultConfiguration(), ctx, RESOLVERS)).name).toBe('local');
    expect((await createResolver({ ...defaultConfiguration(), nameResolution: { component: 'mdns' } }, ctx, RESOLVERS)).name).toBe('local');
    expect((await createResolver({ ...defaultConfiguration(), nameResolution: { component: 'Kubernetes', configuration: { port: 7 } } }, ctx, RESOLVERS)).name).toBe('kubernetes');
  });

  it('refuses an unknown resolver at start-up, naming the field', async () => {
    const cfg = { ...defaultConfiguration(), nameResolution: { component: 'consul' }, files: ['/etc/cfg.yaml'] };
    const err = await createResolver(cfg, ctx, RESOLVERS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceError);
    expect((err as Error).message).toContain('spec.nameResolution.component');
    expect((err as Error).message).toContain('unknown name resolver consul');
  });
});
