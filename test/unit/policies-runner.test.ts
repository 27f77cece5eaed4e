// The breaker state machine (gobreaker v0.5.0 rules) and one operation under retry ⊃ breaker ⊃
// timeout, with fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PolicyError } from '../../core/policy.js';
import { createBackoff } from '../../policies/backoff.js';
import { Breaker, type BreakerState } from '../../policies/breaker.js';
import { PolicyRunner } from '../../policies/build.js';
import { TripExpression } from '../../policies/expression.js';
import { CodeSet, parseCodes, type BreakerSpec, type RetrySpec } from '../../policies/spec.js';

function retry(over: Partial<RetrySpec> = {}): RetrySpec {
  return {
    name: 'r', policy: 'constant', durationMs: 1000, maxIntervalMs: 60_000, maxRetries: 3,
    httpStatusCodes: new CodeSet([]), grpcStatusCodes: new CodeSet([]), initialIntervalMs: 500, maxElapsedMs: 900_000, ...over,
  };
}

function breakerSpec(over: Partial<BreakerSpec> = {}): BreakerSpec {
  return { name: 'cb', maxRequests: 1, intervalMs: 0, timeoutMs: 30_000, trip: TripExpression.compile('consecutiveFailures > 2'), ...over };
}

describe('circuit breaker', () => {
  let now = 0;
  const clock = (): number => now;
  const changes: string[] = [];
  const track = (_b: Breaker, from: BreakerState, to: BreakerState): void => void changes.push(`${from}->${to}`);
  beforeEach(() => {
    now = 1000;
    changes.length = 0;
  });

  function fail(b: Breaker): void {
    b.after(b.before(), false);
  }
  function succeed(b: Breaker): void {
    b.after(b.before(), true);
  }

  it('opens when the trip expression holds after a failure, rejects while open, half-opens after timeout and closes on success', () => {
    const b = new Breaker('k', breakerSpec(), track, clock);
    fail(b); fail(b);
    expect(b.current()).toBe('closed');
    fail(b);
    expect(b.current()).toBe('open');
    expect(() => b.before()).toThrow(new PolicyError('breakerOpen', 'circuit breaker is open'));
    now += 30_000;
    expect(b.current()).toBe('open'); // strictly after the timeout
    now += 1;
    expect(b.current()).toBe('half-open');
    const probe = b.before();
    expect(() => b.before()).toThrow('too many requests');
    b.after(probe, true);
    expect(b.current()).toBe('closed');
    expect(changes).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });

  it('lets maxRequests probes through half-open and needs as many successes to close', () => {
    const b = new Breaker('k', breakerSpec({ maxRequests: 3, trip: TripExpression.compile('consecutiveFailures >= 1') }), track, clock);
    fail(b);
    now += 30_001;
    const probes = [b.before(), b.before(), b.before()];
    expect(() => b.before()).toThrow('too many requests');
    b.after(probes[0]!, true);
    b.after(probes[1]!, true);
    expect(b.current()).toBe('half-open');
    b.after(probes[2]!, true);
    expect(b.current()).toBe('closed');
  });

  it('reopens on a failure while half-open', () => {
    const b = new Breaker('k', breakerSpec({ trip: TripExpression.compile('consecutiveFailures >= 1') }), track, clock);
    fail(b);
    now += 30_001;
    fail(b);
    expect(b.current()).toBe('open');
    expect(changes).toEqual(['closed->open', 'open->half-open', 'half-open->open']);
  });

  it('resets the counts when the closed interval elapses', () => {
    const b = new Breaker('k', breakerSpec({ intervalMs: 10_000 }), track, clock);
    fail(b); fail(b);
    now += 10_001;
    fail(b); fail(b);
    expect(b.current()).toBe('closed');
    expect(b.counts()).toMatchObject({ requests: 2, consecutiveFailures: 2 });
    fail(b);
    expect(b.current()).toBe('open');
  });

  it('ignores results of requests started in an earlier generation', () => {
    const b = new Breaker('k', breakerSpec({ trip: TripExpression.compile('consecutiveFailures >= 1') }), track, clock);
    const early = b.before();
    fail(b);
    now += 30_001;
    expect(b.current()).toBe('half-open');
    b.after(early, true); // from the closed generation: ignored
    expect(b.current()).toBe('half-open');
  });

  it('counts requests including the failing one for ratio expressions', () => {
    const b = new Breaker('k', breakerSpec({ trip: TripExpression.compile('requests >= 4 && double(totalFailures) / double(requests) >= 0.5') }), track, clock);
    succeed(b); fail(b); succeed(b);
    expect(b.current()).toBe('closed');
    fail(b);
    expect(b.current()).toBe('open');
  });
});

describe('exponential back-off', () => {
  it('grows x1.5 from 500 ms, randomised +-50 %, capped at maxInterval before jitter', () => {
    const mid = createBackoff(retry({ policy: 'exponential', maxIntervalMs: 2000 }), () => 0.5);
    expect([1, 2, 3, 4, 5].map(() => Math.round(mid.next(0)!))).toEqual([500, 750, 1125, 1688, 2000]);
    const low = createBackoff(retry({ policy: 'exponential' }), () => 0);
    expect(low.next(0)).toBe(250);
    const high = createBackoff(retry({ policy: 'exponential' }), () => 1);
    expect(Math.round(high.next(0)!)).toBe(750);
  });
  it('stops when the elapsed time plus the next wait would pass 15 minutes', () => {
    const b = createBackoff(retry({ policy: 'exponential' }), () => 0.5);
    expect(b.next(900_000 - 600)).toBe(500);
    expect(b.next(900_000 - 100)).toBeUndefined();
  });
});

describe('runner: retry ⊃ breaker ⊃ timeout', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function script(outcomes: Array<number | Error>): { op: () => Promise<{ status: number }>; calls: () => number } {
    let n = 0;
    return {
      op: () => {
        const o = outcomes[Math.min(n++, outcomes.length - 1)]!;
        return o instanceof Error ? Promise.reject(o) : Promise.resolve({ status: o });
      },
      calls: () => n,
    };
  }
  const http = { failureStatus: (r: { status: number }) => (r.status >= 200 && r.status < 400 ? undefined : r.status) };

  it('retries a 503 twice, then returns the 200', async () => {
    const s = script([503, 503, 200]);
    const activations: string[] = [];
    const p = new PolicyRunner(undefined, retry(), undefined, { activated: (k) => void activations.push(k) }).run(s.op, http);
    await vi.runAllTimersAsync();
    await expect(p).resolves.toEqual({ status: 200 });
    expect(s.calls()).toBe(3);
    expect(activations).toEqual(['retry']); // once per operation, not per retry
  });

  it('returns the last failed answer as-is after maxRetries, discarding the earlier ones', async () => {
    const s = script([500]);
    const discarded: number[] = [];
    const p = new PolicyRunner(undefined, retry({ maxRetries: 4 }), undefined, undefined).run(s.op, { ...http, discard: (r) => void discarded.push(r.status) });
    await vi.runAllTimersAsync();
    await expect(p).resolves.toEqual({ status: 500 });
    expect(s.calls()).toBe(5);
    expect(discarded).toHaveLength(4);
  });

  it('does not retry a status outside matching, but still retries errors without a status', async () => {
    const matching = retry({ httpStatusCodes: parseCodes('500-599', 100, 599) });
    const s404 = script([404, 200]);
    const p1 = new PolicyRunner(undefined, matching, undefined, undefined).run(s404.op, http);
    await vi.runAllTimersAsync();
    await expect(p1).resolves.toEqual({ status: 404 });
    expect(s404.calls()).toBe(1);
    const sErr = script([new Error('ECONNRESET'), 200]);
    const p2 = new PolicyRunner(undefined, matching, undefined, undefined).run(sErr.op, http);
    await vi.runAllTimersAsync();
    await expect(p2).resolves.toEqual({ status: 200 });
    expect(sErr.calls()).toBe(2);
  });

  it('routes gRPC codes (0-16) to gRPCStatusCodes', async () => {
    const r = retry({ grpcStatusCodes: parseCodes('14', 0, 16) });
    const s = script([5, 14, 0]);
    const p = new PolicyRunner(undefined, r, undefined, undefined).run(s.op, { failureStatus: (x) => (x.status === 0 ? undefined : x.status) });
    await vi.runAllTimersAsync();
    await expect(p).resolves.toEqual({ status: 5 });
    expect(s.calls()).toBe(1);
  });

  it('waits exactly the constant duration between attempts', async () => {
    const s = script([500, 500, 200]);
    const p = new PolicyRunner(undefined, retry({ durationMs: 2000 }), undefined, undefined).run(s.op, http);
    await vi.advanceTimersByTimeAsync(0);
    expect(s.calls()).toBe(1);
    await vi.advanceTimersByTimeAsync(1999);
    expect(s.calls()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(s.calls()).toBe(2);
    await vi.advanceTimersByTimeAsync(2000);
    await expect(p).resolves.toEqual({ status: 200 });
  });

  it('retries forever with maxRetries -1', async () => {
    const outcomes: Array<number> = Array.from({ length: 40 }, () => 503);
    outcomes.push(200);
    const s = script(outcomes);
    const p = new PolicyRunner(undefined, retry({ maxRetries: -1, durationMs: 10 }), undefined, undefined).run(s.op, http);
    await vi.runAllTimersAsync();
    await expect(p).resolves.toEqual({ status: 200 });
    expect(s.calls()).toBe(41);
  });

  it('times out each attempt, aborts its signal, retries the timeout and reports it once', async () => {
    const signals: AbortSignal[] = [];
    let n = 0;
    const op = (signal: AbortSignal | undefined): Promise<string> => {
      signals.push(signal!);
      return ++n < 3 ? new Promise<string>(() => undefined) : Promise.resolve('late but fine');
    };
    const activations: string[] = [];
    const p = new PolicyRunner(100, retry({ durationMs: 50 }), undefined, { activated: (k) => void activations.push(k) }).run(op);
    await vi.runAllTimersAsync();
    await expect(p).resolves.toBe('late but fine');
    expect(signals.slice(0, 2).every((s) => s.aborted)).toBe(true);
    expect(activations.sort()).toEqual(['retry', 'timeout']);
  });

  it('rejects with "context deadline exceeded" when the last attempt times out and discards a late result', async () => {
    let resolveLate: (v: string) => void = () => undefined;
    const discarded: string[] = [];
    const p = new PolicyRunner(100, undefined, undefined, undefined).run(() => new Promise<string>((r) => (resolveLate = r)), { discard: (v) => void discarded.push(v) });
    const assertion = expect(p).rejects.toEqual(new PolicyError('timeout', 'context deadline exceeded'));
    await vi.advanceTimersByTimeAsync(100);
    await assertion;
    resolveLate('late');
    await vi.advanceTimersByTimeAsync(0);
    expect(discarded).toEqual(['late']);
  });

  it('stops retrying as soon as the breaker rejects', async () => {
    const b = new Breaker('k', breakerSpec({ trip: TripExpression.compile('consecutiveFailures > 1') }), undefined);
    const s = script([new Error('down')]);
    const p = new PolicyRunner(undefined, retry({ maxRetries: 10 }), b, undefined).run(s.op);
    const assertion = expect(p).rejects.toThrow('circuit breaker is open');
    await vi.runAllTimersAsync();
    await assertion;
    expect(s.calls()).toBe(2);
  });

  it('counts failed answers as breaker failures even when matching makes them final', async () => {
    const b = new Breaker('k', breakerSpec({ trip: TripExpression.compile('consecutiveFailures >= 1') }), undefined);
    const s = script([404]);
    const r = retry({ httpStatusCodes: parseCodes('500', 100, 599) });
    const p = new PolicyRunner(undefined, r, b, undefined).run(s.op, http);
    await vi.runAllTimersAsync();
    await expect(p).resolves.toEqual({ status: 404 });
    expect(b.current()).toBe('open');
  });

  it('runs a non-replayable operation once', async () => {
    const s = script([503]);
    const p = new PolicyRunner(undefined, retry(), undefined, undefined).run(s.op, { ...http, once: true });
    await vi.runAllTimersAsync();
    await expect(p).resolves.toEqual({ status: 503 });
    expect(s.calls()).toBe(1);
  });

  it('stops waiting between retries when the caller goes away', async () => {
    const ac = new AbortController();
    const s = script([new Error('down')]);
    const p = new PolicyRunner(undefined, retry({ maxRetries: -1, durationMs: 5000 }), undefined, undefined).run(s.op, { signal: ac.signal });
    const assertion = expect(p).rejects.toBeDefined();
    await vi.advanceTimersByTimeAsync(100);
    ac.abort(new Error('client went away'));
    await vi.advanceTimersByTimeAsync(0);
    await assertion;
    expect(s.calls()).toBe(1);
  });
});

describe('runner: status codes carried by errors', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('lets matching stop an error whose status the caller reports, and retries the rest', async () => {
    class StatusError extends Error {
      constructor(readonly statusCode: number) {
        super(`app answered ${statusCode}`);
      }
    }
    const r = retry({ httpStatusCodes: parseCodes('500-599', 100, 599) });
    const errorStatus = (e: unknown): number | undefined => (e instanceof StatusError ? e.statusCode : undefined);
    let n = 0;
    const p = new PolicyRunner(undefined, r, undefined, undefined).run(() => Promise.reject(new StatusError(++n === 1 ? 503 : 409)), { errorStatus });
    const assertion = expect(p).rejects.toThrow('app answered 409');
    await vi.runAllTimersAsync();
    await assertion;
    expect(n).toBe(2);
  });
});
