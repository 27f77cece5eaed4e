// Parsing and validating Resiliency resources: defaults, formats, and errors that name the
// file, the policy and the field.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseCodes, parsePolicyDuration, parseResiliency } from '../../policies/spec.js';
import type { ResiliencyResource } from '../../resources/types.js';

function resource(specYaml: string, name = 'res', file = '/res/resiliency.yaml'): ResiliencyResource {
  return { kind: 'Resiliency', name, spec: parse(specYaml, { version: '1.1' }) as Record<string, unknown>, scopes: [], origin: { file, doc: 1 } };
}

describe('Resiliency parsing', () => {
  it('reads policies and targets with Dapr defaults', () => {
    const s = parseResiliency(resource(`
policies:
  timeouts: { general: 5s, fast: "500", mixed: 1m30s, zero: "0" }
  retries:
    plain: {}
    expo: { policy: Exponential, maxInterval: 15s, maxRetries: 4, matching: { httpStatusCodes: "429,500-504", gRPCStatusCodes: "1-4,14" } }
  circuitBreakers:
    cb: { maxRequests: 2, interval: 8s, timeout: 45s, trip: consecutiveFailures > 3 }
    bare: {}
targets:
  apps: { appB: { timeout: general, retry: expo, circuitBreaker: cb } }
  actors: { myActor: { retry: plain, circuitBreaker: cb, circuitBreakerScope: id } }
  components: { store: { outbound: { retry: plain } }, events: { inbound: { timeout: fast } } }
`));
    expect(Object.fromEntries(s.timeouts)).toEqual({ general: 5000, fast: 500, mixed: 90_000, zero: 0 });
    const plain = s.retries.get('plain')!;
    expect([plain.policy, plain.durationMs, plain.maxIntervalMs, plain.maxRetries]).toEqual(['constant', 5000, 60_000, -1]);
    expect(plain.httpStatusCodes.has(404)).toBe(true); // empty list = every code
    const expo = s.retries.get('expo')!;
    expect([expo.policy, expo.maxIntervalMs, expo.maxRetries]).toEqual(['exponential', 15_000, 4]);
    expect([expo.httpStatusCodes.has(429), expo.httpStatusCodes.has(503), expo.httpStatusCodes.has(505), expo.httpStatusCodes.has(404)]).toEqual([true, true, false, false]);
    expect([expo.grpcStatusCodes.has(14), expo.grpcStatusCodes.has(5)]).toEqual([true, false]);
    const cb = s.circuitBreakers.get('cb')!;
    expect([cb.maxRequests, cb.intervalMs, cb.timeoutMs, cb.trip.source]).toEqual([2, 8000, 45_000, 'consecutiveFailures > 3']);
    const bare = s.circuitBreakers.get('bare')!;
    expect([bare.maxRequests, bare.intervalMs, bare.timeoutMs, bare.trip.source]).toEqual([1, 0, 60_000, 'consecutiveFailures > 5']);
    expect(s.apps.get('appB')).toEqual({ timeout: 'general', retry: 'expo', circuitBreaker: 'cb', circuitBreakerCacheSize: 100 });
    expect(s.actors.get('myActor')).toEqual({ retry: 'plain', circuitBreaker: 'cb', circuitBreakerScope: 'id', circuitBreakerCacheSize: 5000 });
    expect(s.components.get('store')).toEqual({ outbound: { retry: 'plain' } });
    expect(s.components.get('events')).toEqual({ inbound: { timeout: 'fast' } });
  });

  it('matches field names case-insensitively, as Go encoding/json does, but keeps map keys exact', () => {
    const s = parseResiliency(resource(`
Policies:
  RETRIES:
    MyRetry: { POLICY: constant, Duration: 1s, maxretries: 2, Matching: { grpcstatuscodes: "14" } }
Targets:
  Apps: { AppB: { Retry: MyRetry } }
`));
    expect(s.retries.get('MyRetry')!.maxRetries).toBe(2);
    expect(s.retries.get('MyRetry')!.grpcStatusCodes.has(13)).toBe(false);
    expect(s.apps.get('AppB')!.retry).toBe('MyRetry');
    expect(s.apps.has('appb')).toBe(false);
  });

  it('ignores unknown fields so future policy kinds stay optional', () => {
    const s = parseResiliency(resource(`
policies:
  rateLimits: { r: { rps: 10 } }
  retries: { r: { policy: constant, initialInterval: 1s, multiplier: 3 } }
targets:
  apps: { a: { retry: r, bulkhead: b } }
`));
    expect(s.retries.get('r')!.durationMs).toBe(5000);
    expect(s.apps.get('a')!.retry).toBe('r');
  });

  const invalid: Array<[string, string, RegExp]> = [
    ['policies:\n  timeouts: { general: 5 }', 'spec.policies.timeouts.general', /must be a duration string/],
    ['policies:\n  timeouts: { general: 5d }', 'spec.policies.timeouts.general', /invalid duration "5d"/],
    ['policies:\n  timeouts: { general: "" }', 'spec.policies.timeouts.general', /invalid duration/],
    ['policies:\n  retries: { r: { policy: linear } }', 'spec.policies.retries.r.policy', /invalid retry policy "linear"/],
    ['policies:\n  retries: { r: { duration: soon } }', 'spec.policies.retries.r.duration', /invalid duration/],
    ['policies:\n  retries: { r: { maxRetries: "3" } }', 'spec.policies.retries.r.maxRetries', /must be an integer/],
    ['policies:\n  retries: { r: { matching: { httpStatusCodes: "429, 500" } } }', 'spec.policies.retries.r.matching.httpStatusCodes', /not an integer/],
    ['policies:\n  retries: { r: { matching: { httpStatusCodes: "500-400" } } }', 'spec.policies.retries.r.matching.httpStatusCodes', /end is below start/],
    ['policies:\n  retries: { r: { matching: { httpStatusCodes: "1-2-3" } } }', 'spec.policies.retries.r.matching.httpStatusCodes', /more than one/],
    ['policies:\n  retries: { r: { matching: { httpStatusCodes: "600" } } }', 'spec.policies.retries.r.matching.httpStatusCodes', /outside 100-599/],
    ['policies:\n  retries: { r: { matching: { gRPCStatusCodes: "17" } } }', 'spec.policies.retries.r.matching.gRPCStatusCodes', /outside 0-16/],
    ['policies:\n  circuitBreakers: { cb: { trip: "consecutiveFailures >" } }', 'spec.policies.circuitBreakers.cb.trip', /unexpected end/],
    ['policies:\n  circuitBreakers: { cb: { maxRequests: -1 } }', 'spec.policies.circuitBreakers.cb.maxRequests', /must not be negative/],
    ['policies:\n  circuitBreakers: { cb: { maxRequests: "1" } }', 'spec.policies.circuitBreakers.cb.maxRequests', /must be an integer/],
    ['targets:\n  actors: { a: { circuitBreaker: cb } }', 'spec.targets.actors.a.circuitBreakerScope', /must include scope/],
    ['targets:\n  actors: { a: { circuitBreaker: cb, circuitBreakerScope: all } }', 'spec.targets.actors.a.circuitBreakerScope', /id, type or both/],
    ['targets:\n  apps: { a: { retry: 3 } }', 'spec.targets.apps.a.retry', /must be a string/],
  ];
  for (const [yaml, field, reason] of invalid) {
    it(`rejects ${field} (${reason.source})`, () => {
      let err: Error | undefined;
      try {
        parseResiliency(resource(yaml, 'myres', '/res/broken.yaml'));
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).toContain('/res/broken.yaml');
      expect(err?.message).toContain(`field ${field}`);
      expect(err?.message).toMatch(reason);
    });
  }

  it('parses durations: bare integers are milliseconds, else Go syntax', () => {
    expect(parsePolicyDuration('1500')).toBe(1500);
    expect(parsePolicyDuration('1.5s')).toBe(1500);
    expect(parsePolicyDuration('1h30m')).toBe(5_400_000);
    expect(parsePolicyDuration('250us')).toBe(0.25);
    expect(parsePolicyDuration('-1s')).toBe(-1000);
    expect(parsePolicyDuration('2d')).toBeUndefined();
  });

  it('parses status code lists with ranges and empty items', () => {
    const set = parseCodes('429,,500-502', 100, 599);
    expect([428, 429, 499, 500, 501, 502, 503].map((c) => set.has(c))).toEqual([false, true, false, true, true, true, false]);
    expect(parseCodes('', 100, 599).isEmpty).toBe(true);
  });
});
