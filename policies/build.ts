// One operation under its policies, nested as Dapr nests them: retry ⊃ circuit breaker ⊃
// per-attempt timeout. The timeout is cockatiel's (aggressive: the caller gets the error at once
// and the attempt's signal is aborted); the retry loop and the breaker follow Dapr's rules,
// which cockatiel does not model: status-code matching, permanent failures, a breaker rejection
// ending the loop, results relayed after the last attempt, late results released.
// This is the only file that imports cockatiel.
import { TaskCancelledError, TimeoutPolicy, TimeoutStrategy } from 'cockatiel';
import { PolicyError, type CallPolicy, type RunOptions } from '../core/policy.js';
import { createBackoff } from './backoff.js';
import type { Breaker } from './breaker.js';
import type { RetrySpec } from './spec.js';

export type PolicyKind = 'timeout' | 'retry' | 'circuitbreaker';

export interface RunHooks {
  /** Once per operation in which the policy acted (a timeout fired, a retry happened). */
  activated(kind: 'timeout' | 'retry'): void;
}

/** A cockatiel timeout per distinct duration; they hold no per-call state. */
const timeouts = new Map<number, TimeoutPolicy>();

export function timeoutPolicy(ms: number): TimeoutPolicy {
  let p = timeouts.get(ms);
  if (!p) {
    p = new TimeoutPolicy(ms, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false });
    timeouts.set(ms, p);
  }
  return p;
}

export const DEADLINE_EXCEEDED = 'context deadline exceeded';

/** Whether a failure with this status may be retried under `spec`'s matching rules. */
export function isRetryableStatus(spec: RetrySpec, code: number | undefined): boolean {
  if (code === undefined) return true;
  if (code >= 0 && code <= 16) return spec.grpcStatusCodes.has(code);
  if (code >= 100 && code <= 599) return spec.httpStatusCodes.has(code);
  return true;
}

export class PolicyRunner implements CallPolicy {
  constructor(
    readonly timeoutMs: number | undefined,
    readonly retry: RetrySpec | undefined,
    readonly breaker: Breaker | undefined,
    private readonly hooks: RunHooks | undefined,
  ) {}

  async run<T>(op: (signal: AbortSignal | undefined) => Promise<T>, options?: RunOptions<T>): Promise<T> {
    const retry = options?.once ? undefined : this.retry;
    const signal = options?.signal;
    const started = Date.now();
    const backoff = retry ? createBackoff(retry) : undefined;
    let retries = 0;
    let timedOut = false;
    try {
      for (;;) {
        const generation = this.breaker?.before(); // throws when open: never retried
        let value: T | undefined;
        let failed = false;
        let error: unknown;
        let code: number | undefined;
        try {
          value = await this.attempt(op, options);
          code = options?.failureStatus?.(value);
          failed = code !== undefined;
        } catch (err) {
          failed = true;
          error = err;
          code = options?.errorStatus?.(err);
          if (err instanceof PolicyError && err.reason === 'timeout') timedOut = true;
        }
        if (generation !== undefined) this.breaker!.after(generation, !failed);
        if (!failed) return value as T;
        const wait = retry && !signal?.aborted && isRetryableStatus(retry, code) && (retry.maxRetries < 0 || retries < retry.maxRetries)
          ? backoff!.next(Date.now() - started)
          : undefined;
        if (wait === undefined) {
          if (error !== undefined) throw error;
          return value as T; // the last failed answer is relayed as-is
        }
        if (error === undefined) options?.discard?.(value as T);
        if (retries === 0) this.hooks?.activated('retry');
        retries++;
        await sleep(wait, signal);
        if (signal?.aborted) throw signal.reason ?? new Error('operation aborted');
      }
    } finally {
      if (timedOut) this.hooks?.activated('timeout');
    }
  }

  private async attempt<T>(op: (signal: AbortSignal | undefined) => Promise<T>, options: RunOptions<T> | undefined): Promise<T> {
    const ms = this.timeoutMs;
    if (ms === undefined || ms <= 0) return op(options?.signal);
    let late = false;
    try {
      return await timeoutPolicy(ms).execute((_ctx, signal) => {
        const p = op(signal);
        if (options?.discard) {
          const discard = options.discard;
          p.then((v) => { if (late) discard(v); }, () => undefined);
        }
        return p;
      }, options?.signal);
    } catch (err) {
      if (err instanceof TaskCancelledError) {
        late = true;
        if (options?.signal?.aborted) throw options.signal.reason ?? err;
        throw new PolicyError('timeout', DEADLINE_EXCEEDED);
      }
      throw err;
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
