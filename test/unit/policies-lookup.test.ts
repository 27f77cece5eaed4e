// Which policy applies to which call: named targets, Dapr's default-policy levels, merging of
// several resources, built-in retries; plus the provider's breaker keys.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PolicySet } from '../../policies/lookup.js';
import { ResiliencyMetrics } from '../../policies/metrics.js';
import { ResiliencyProvider } from '../../policies/provider.js';
import { parseResiliency, type ResiliencySpec } from '../../policies/spec.js';
import type { Logger } from '../../core/component.js';

function spec(name: string, yaml: string): ResiliencySpec {
  return parseResiliency({ kind: 'Resiliency', name, spec: parse(yaml) as Record<string, unknown>, scopes: [], origin: { file: `/r/${name}.yaml`, doc: 1 } });
}

const SHOP = spec('shop', `
policies:
  timeouts: { DefaultTimeoutPolicy: 10s, DefaultStatestoreComponentOutboundTimeoutPolicy: 2s, invokeTO: 2s }
  retries:
    DefaultRetryPolicy: { policy: constant, duration: 1s, maxRetries: 3 }
    DefaultComponentOutboundRetryPolicy: { policy: exponential, maxInterval: 5s, maxRetries: 5 }
    three: { policy: constant, duration: 1s, maxRetries: 3 }
  circuitBreakers:
    cb: { maxRequests: 1, timeout: 30s, trip: consecutiveFailures > 2 }
targets:
  apps: { payments: { timeout: invokeTO, retry: three, circuitBreaker: cb } }
  components: { cache: { outbound: { circuitBreaker: cb } } }
`);

function summary(r: { timeoutMs?: number; retry?: { name: string }; breaker?: { name: string } }): [number | undefined, string | undefined, string | undefined] {
  return [r.timeoutMs, r.retry?.name, r.breaker?.name];
}

describe('policy selection (the worked table of the spec)', () => {
  const set = PolicySet.merge([SHOP]);
  it('uses exactly what a named app target names, and nothing from defaults', () => {
    expect(summary(set.app('payments'))).toEqual([2000, 'three', 'cb']);
    expect(set.builtInServiceRetries('payments')).toBe(false);
  });
  it('falls back to the level-less defaults for other apps, keyed by the target as written', () => {
    expect(summary(set.app('inventory'))).toEqual([10_000, 'DefaultRetryPolicy', undefined]);
    expect(summary(set.app('payments.prod'))).toEqual([10_000, 'DefaultRetryPolicy', undefined]);
    expect(set.builtInServiceRetries('inventory')).toBe(true);
  });
  it('resolves each kind independently through the component levels', () => {
    expect(summary(set.component('orders', 'Statestore', 'outbound'))).toEqual([2000, 'DefaultComponentOutboundRetryPolicy', undefined]);
    expect(summary(set.component('events', 'Pubsub', 'outbound'))).toEqual([10_000, 'DefaultComponentOutboundRetryPolicy', undefined]);
    expect(summary(set.component('events', 'Pubsub', 'inbound'))).toEqual([10_000, 'DefaultRetryPolicy', undefined]);
  });
  it('gives a component with only one direction named nothing in the other direction', () => {
    expect(summary(set.component('cache', 'Statestore', 'outbound'))).toEqual([undefined, undefined, 'cb']);
    expect(summary(set.component('cache', 'Statestore', 'inbound'))).toEqual([undefined, undefined, undefined]);
  });
  it('prefers the most specific level', () => {
    const s = PolicySet.merge([spec('levels', `
policies:
  retries:
    DefaultRetryPolicy: { maxRetries: 1 }
    DefaultComponentRetryPolicy: { maxRetries: 2 }
    DefaultComponentInboundRetryPolicy: { maxRetries: 3 }
    DefaultPubsubComponentInboundRetryPolicy: { maxRetries: 4 }
    DefaultAppRetryPolicy: { maxRetries: 5 }
    DefaultActorRetryPolicy: { maxRetries: 6 }
    DefaultSecretstoreComponentRetryPolicy: { maxRetries: 7 }
`)]);
    expect(s.component('p', 'Pubsub', 'inbound').retry!.maxRetries).toBe(4);
    expect(s.component('b', 'Binding', 'inbound').retry!.maxRetries).toBe(3);
    expect(s.component('b', 'Binding', 'outbound').retry!.maxRetries).toBe(2);
    // There is no <Type>Component level without a direction.
    expect(s.component('sec', 'Secretstore', 'outbound').retry!.maxRetries).toBe(2);
    expect(s.app('x').retry!.maxRetries).toBe(5);
    expect(s.actor('t').retry!.maxRetries).toBe(6);
  });
  it('has no policy at all without resources (built-in retries are not defaults)', () => {
    const empty = PolicySet.merge([]);
    expect(summary(empty.app('x'))).toEqual([undefined, undefined, undefined]);
    expect(summary(empty.component('s', 'Statestore', 'outbound'))).toEqual([undefined, undefined, undefined]);
    expect(empty.retries.get('DaprBuiltInServiceRetries')).toMatchObject({ policy: 'constant', durationMs: 1000, maxRetries: 3 });
  });
});

describe('merging several resources', () => {
  it('lets later policies and targets replace earlier ones wholesale and resolves names across files', () => {
    const a = spec('a', `
policies:
  retries: { r: { maxRetries: 1 } }
  timeouts: { t: 1s }
targets:
  apps: { x: { retry: r, timeout: t } }
`);
    const b = spec('b', `
policies:
  retries: { r: { maxRetries: 9 }, other: { maxRetries: 2 } }
targets:
  apps: { y: { retry: other, timeout: t } }
  components: { s: { outbound: { retry: r } } }
`);
    const c = spec('c', `
targets:
  apps: { x: { retry: other } }
`);
    const set = PolicySet.merge([a, b, c]);
    expect(summary(set.app('x'))).toEqual([undefined, 'other', undefined]); // c's entry replaced a's
    expect(summary(set.app('y'))).toEqual([1000, 'other', undefined]); // t comes from file a
    expect(set.component('s', 'Statestore', 'outbound').retry!.maxRetries).toBe(9);
    expect(set.name).toBe('c');
  });

  it('raises a built-in retry redefined below 3 retries to 3 and ignores the protected one', () => {
    const warnings: string[] = [];
    const set = PolicySet.merge([spec('b', `
policies:
  retries:
    DaprBuiltInServiceRetries: { maxRetries: 1, duration: 2s }
    DaprBuiltInActorNotFoundRetries: { maxRetries: 50 }
`)], (w) => warnings.push(w));
    expect(set.retries.get('DaprBuiltInServiceRetries')).toMatchObject({ maxRetries: 3, durationMs: 2000 });
    expect(set.retries.get('DaprBuiltInActorNotFoundRetries')!.maxRetries).toBe(5);
    expect(warnings).toHaveLength(2);
  });

  it('flags component targets naming a breaker that does not exist', () => {
    const set = PolicySet.merge([spec('d', 'targets:\n  components: { s: { outbound: { circuitBreaker: nope } } }')]);
    expect(set.danglingBreakers()).toEqual(['components.s.outbound.circuitBreaker nope']);
  });
});

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

describe('breaker instances', () => {
  const cbSpec = spec('cb', `
policies:
  circuitBreakers: { cb: { trip: consecutiveFailures >= 1, timeout: 1h } }
targets:
  apps: { a: { circuitBreaker: cb } }
  components: { s: { outbound: { circuitBreaker: cb }, inbound: { circuitBreaker: cb } } }
  actors: { byType: { circuitBreaker: cb, circuitBreakerScope: type }, byId: { circuitBreaker: cb, circuitBreakerScope: id } }
`);
  const fail = (): Promise<never> => Promise.reject(new Error('boom'));
  const ok = (): Promise<string> => Promise.resolve('ok');

  it('keeps one app breaker per target and method', async () => {
    const p = new ResiliencyProvider({ appId: 'me', logger: quiet, metrics: new ResiliencyMetrics('me'), componentType: () => undefined }, [cbSpec]);
    await expect(p.app('a', '/one').run(fail)).rejects.toThrow('boom');
    await expect(p.app('a', '/one').run(ok)).rejects.toThrow('circuit breaker is open');
    await expect(p.app('a', '/two').run(ok)).resolves.toBe('ok');
  });

  it('shares one component breaker between outbound and inbound', async () => {
    const p = new ResiliencyProvider({ appId: 'me', logger: quiet, metrics: new ResiliencyMetrics('me'), componentType: () => 'state.redis' }, [cbSpec]);
    await expect(p.componentOutbound('s').run(fail)).rejects.toThrow('boom');
    await expect(p.componentInbound('s').run(ok)).rejects.toThrow('circuit breaker is open');
  });

  it('keys actor breakers by type or by type and id as the scope says', async () => {
    const p = new ResiliencyProvider({ appId: 'me', logger: quiet, metrics: new ResiliencyMetrics('me'), componentType: () => undefined }, [cbSpec]);
    await expect(p.actor('byType', '1').run(fail)).rejects.toThrow('boom');
    await expect(p.actor('byType', '2').run(ok)).rejects.toThrow('circuit breaker is open');
    await expect(p.actor('byId', '1').run(fail)).rejects.toThrow('boom');
    await expect(p.actor('byId', '2').run(ok)).resolves.toBe('ok');
    await expect(p.actor('byId', '1').run(ok)).rejects.toThrow('circuit breaker is open');
  });

  it('splits an actor target: retry and breaker before the turn lock, the timeout after it', async () => {
    const split = spec('split', `
policies:
  timeouts: { t: 5s }
  retries: { r: { policy: constant, duration: 1s, maxRetries: 2 } }
  circuitBreakers: { cb: { trip: consecutiveFailures > 1 } }
targets:
  actors: { A: { timeout: t, retry: r, circuitBreaker: cb, circuitBreakerScope: type } }
`);
    const p = new ResiliencyProvider({ appId: 'me', logger: quiet, metrics: new ResiliencyMetrics('me'), componentType: () => undefined }, [split]);
    const pre = p.current.runner('actor', 'A', '1')!;
    expect([pre.timeoutMs, pre.retry?.name, pre.breaker?.key]).toEqual([undefined, 'r', 'A']);
    const post = p.current.runner('turn', 'A', '1')!;
    expect([post.timeoutMs, post.retry, post.breaker]).toEqual([5000, undefined, undefined]);
    expect(p.actorTurn('A').canRetry?.()).toBe(false);
  });

  it('starts fresh breakers after a reload while the old snapshot finishes its calls', async () => {
    const p = new ResiliencyProvider({ appId: 'me', logger: quiet, metrics: new ResiliencyMetrics('me'), componentType: () => undefined }, [cbSpec]);
    await expect(p.app('a', '/x').run(fail)).rejects.toThrow('boom');
    p.replace([cbSpec]);
    await expect(p.app('a', '/x').run(ok)).resolves.toBe('ok');
  });
});
