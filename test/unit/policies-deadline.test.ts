// The shared deadline queue behind per-attempt timeouts, and the light signal attempts hand to
// undici, with fake timers.
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PolicyError } from '../../core/policy.js';
import { PolicyRunner } from '../../policies/build.js';
import { DeadlineQueue, type DeadlineEntry } from '../../policies/deadline.js';
import { LightSignal } from '../../policies/light-signal.js';
import { CodeSet, type RetrySpec } from '../../policies/spec.js';

function entry(name: string, fired: string[]): DeadlineEntry {
  return { due: 0, prev: null, next: null, queued: false, expire: () => void fired.push(name) };
}

const retry: RetrySpec = {
  name: 'r', policy: 'constant', durationMs: 1000, maxIntervalMs: 60_000, maxRetries: -1,
  httpStatusCodes: new CodeSet([]), grpcStatusCodes: new CodeSet([]), initialIntervalMs: 500, maxElapsedMs: 900_000,
};

describe('deadline queue', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('expires entries in the order they started, each at its own deadline, with one timer', async () => {
    const q = new DeadlineQueue(100);
    const fired: string[] = [];
    q.add(entry('a', fired));
    await vi.advanceTimersByTimeAsync(30);
    q.add(entry('b', fired));
    q.add(entry('c', fired));
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(70);
    expect(fired).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(29);
    expect(fired).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(1);
    expect(fired).toEqual(['a', 'b', 'c']);
    expect(q.size).toBe(0);
  });

  it('never expires an entry removed before its deadline, wherever it sits in the queue', async () => {
    const q = new DeadlineQueue(50);
    const fired: string[] = [];
    const [a, b, c] = [entry('a', fired), entry('b', fired), entry('c', fired)];
    q.add(a);
    q.add(b);
    q.add(c);
    q.remove(b);
    q.remove(a);
    q.remove(a); // twice is harmless
    expect(q.size).toBe(1);
    await vi.advanceTimersByTimeAsync(50);
    expect(fired).toEqual(['c']);
  });
});

describe('light signal', () => {
  it('calls its listeners once on abort, honours once and removal, and keeps the reason', () => {
    const s = new LightSignal();
    const seen: string[] = [];
    const a = (): void => void seen.push('a');
    const b = (): void => void seen.push('b');
    const c = { handleEvent: (e: Event) => void seen.push(`c:${e.type}`) };
    s.addEventListener('abort', a, { once: true });
    s.addEventListener('abort', b);
    s.addEventListener('abort', c);
    s.removeEventListener('abort', b);
    const reason = new Error('why');
    s.abort(reason);
    s.abort(new Error('again'));
    expect(seen).toEqual(['a', 'c:abort']);
    expect(s.aborted).toBe(true);
    expect(s.reason).toBe(reason);
    expect(() => s.throwIfAborted()).toThrow('why');
  });
});

describe('runner with a light signal and a caller connection', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('hands undici-bound attempts a non-native signal that the deadline aborts', async () => {
    const signals: AbortSignal[] = [];
    const op = (signal: AbortSignal | undefined): Promise<string> => {
      signals.push(signal!);
      return new Promise<string>(() => undefined);
    };
    const p = new PolicyRunner(100, undefined, undefined, undefined).run(op, { lightSignal: true });
    const assertion = expect(p).rejects.toEqual(new PolicyError('timeout', 'context deadline exceeded'));
    await vi.advanceTimersByTimeAsync(100);
    await assertion;
    expect(signals).toHaveLength(1);
    expect(signals[0]).not.toBeInstanceOf(AbortSignal);
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[0]!.reason).toBeInstanceOf(PolicyError);
  });

  it('aborts the attempt in flight and ends the retry loop when the caller connection closes', async () => {
    const caller = new EventEmitter();
    const signals: AbortSignal[] = [];
    const op = (signal: AbortSignal | undefined): Promise<string> => {
      signals.push(signal!);
      return signals.length === 1 ? Promise.reject(new Error('down')) : new Promise<string>(() => undefined);
    };
    const p = new PolicyRunner(undefined, retry, undefined, undefined).run(op, { caller, lightSignal: true });
    const assertion = expect(p).rejects.toThrow('the caller went away');
    await vi.advanceTimersByTimeAsync(1000);
    expect(signals).toHaveLength(2);
    caller.emit('close');
    await assertion;
    expect(signals[1]!.aborted).toBe(true);
    expect(caller.listenerCount('close')).toBe(0);
    await vi.advanceTimersByTimeAsync(5000);
    expect(signals).toHaveLength(2);
  });

  it('stops listening to the caller once the operation is done', async () => {
    const caller = new EventEmitter();
    await new PolicyRunner(100, retry, undefined, undefined).run(() => Promise.resolve('ok'), { caller, lightSignal: true });
    expect(caller.listenerCount('close')).toBe(0);
  });
});
