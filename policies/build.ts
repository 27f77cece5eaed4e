// One operation under its policies, nested as Dapr nests them: retry ⊃ circuit breaker ⊃
// per-attempt timeout. The timeout is aggressive (the caller gets "context deadline exceeded"
// the moment it passes, the attempt's signal is aborted, a late result is released); the retry
// loop follows Dapr's rules: status-code matching, permanent failures, a breaker rejection
// ending the loop, the last failed answer relayed after the last attempt.
//
// Written for the success path, which is nearly every call: deadlines wait in one shared queue
// per duration (deadline.ts) instead of a timer per attempt; an attempt gets a signal of its own
// only when something could abort it (a timeout, or a caller to watch), and for undici-bound
// operations that signal is the attempt itself (light-signal.ts: no AbortController unless it
// fires); the caller's connection is listened to, not wrapped in a signal; back-off state exists
// only after a failure.
import { PolicyError, type CallPolicy, type RunOptions } from '../core/policy.js';
import { createBackoff, type Backoff } from './backoff.js';
import type { Breaker } from './breaker.js';
import { deadlineQueue, type DeadlineEntry, type DeadlineQueue } from './deadline.js';
import { LightSignal } from './light-signal.js';
import type { RetrySpec } from './spec.js';

export type PolicyKind = 'timeout' | 'retry' | 'circuitbreaker';

export interface RunHooks {
  /** Once per operation in which the policy acted (a timeout fired, a retry happened). */
  activated(kind: 'timeout' | 'retry'): void;
}

export const DEADLINE_EXCEEDED = 'context deadline exceeded';

type Op<T> = (signal: AbortSignal | undefined) => Promise<T>;

/** Whether a failure with this status may be retried under `spec`'s matching rules. */
export function isRetryableStatus(spec: RetrySpec, code: number | undefined): boolean {
  if (code === undefined) return true;
  if (code >= 0 && code <= 16) return spec.grpcStatusCodes.has(code);
  if (code >= 100 && code <= 599) return spec.httpStatusCodes.has(code);
  return true;
}

export class PolicyRunner implements CallPolicy {
  /** Where this runner's attempts wait for their deadline; undefined: no timeout. */
  readonly deadlines: DeadlineQueue | undefined;

  constructor(
    readonly timeoutMs: number | undefined,
    readonly retry: RetrySpec | undefined,
    readonly breaker: Breaker | undefined,
    readonly hooks: RunHooks | undefined,
  ) {
    this.deadlines = timeoutMs !== undefined && timeoutMs > 0 ? deadlineQueue(timeoutMs) : undefined;
  }

  run<T>(op: Op<T>, options?: RunOptions<T>): Promise<T> {
    return new Operation(this, op, options).run();
  }

  canRetry(): boolean {
    return this.retry !== undefined && this.retry.maxRetries !== 0;
  }
}

/** One call through a runner: the retry loop and what it must remember between attempts. */
class Operation<T> {
  private readonly retry: RetrySpec | undefined;
  private retries = 0;
  private timedOut = false;
  private started = 0;
  private backoff: Backoff | undefined = undefined;
  /** The attempt in flight with a signal of its own, if any (the one to abort when the caller leaves). */
  private current: Attempt<T> | undefined = undefined;
  /** Why the caller left; undefined while it waits. */
  private gone: unknown = undefined;
  private onGone: (() => void) | undefined = undefined;
  private wake: (() => void) | undefined = undefined;

  constructor(
    private readonly runner: PolicyRunner,
    private readonly op: Op<T>,
    private readonly options: RunOptions<T> | undefined,
  ) {
    this.retry = options?.once ? undefined : runner.retry;
  }

  async run(): Promise<T> {
    const breaker = this.runner.breaker;
    const options = this.options;
    const retry = this.retry;
    if (retry) this.started = Date.now();
    this.watchCaller();
    try {
      for (;;) {
        const generation = breaker?.before(); // throws when open: never retried
        let value: T | undefined;
        let failed = false;
        let error: unknown;
        let code: number | undefined;
        try {
          value = await this.attempt();
          code = options?.failureStatus?.(value);
          failed = code !== undefined;
        } catch (err) {
          failed = true;
          error = err;
          code = options?.errorStatus?.(err);
        }
        if (generation !== undefined) breaker!.after(generation, !failed);
        if (!failed) return value as T;
        const permanent = error !== undefined && options?.isPermanent?.(error) === true;
        const wait = retry && !permanent && this.gone === undefined && isRetryableStatus(retry, code) && (retry.maxRetries < 0 || this.retries < retry.maxRetries)
          ? (this.backoff ??= createBackoff(retry)).next(Date.now() - this.started)
          : undefined;
        if (wait === undefined) {
          if (error !== undefined) throw error;
          return value as T; // the last failed answer is relayed as-is
        }
        if (error === undefined) options?.discard?.(value as T);
        if (this.retries === 0) this.runner.hooks?.activated('retry');
        this.retries++;
        await this.sleep(wait);
        if (this.gone !== undefined) throw this.gone;
      }
    } finally {
      this.unwatchCaller();
      if (this.timedOut) this.runner.hooks?.activated('timeout');
    }
  }

  private attempt(): Promise<T> {
    const deadlines = this.runner.deadlines;
    const options = this.options;
    // Nothing can cut this attempt short: the caller's own signal (if any) goes straight in.
    if (deadlines === undefined && options?.caller === undefined) return this.op(options?.signal);
    if (this.gone !== undefined) return Promise.reject(this.gone);
    const a = new Attempt<T>(this, deadlines);
    this.current = a;
    return a.start(this.op, options?.lightSignal === true);
  }

  /** The attempt settled (answered, failed, expired or was cancelled). */
  settled(a: Attempt<T>, expired: boolean): void {
    if (this.current === a) this.current = undefined;
    if (expired) this.timedOut = true;
  }

  /** A result that arrived after its attempt was given up. */
  late(value: T): void {
    this.options?.discard?.(value);
  }

  private watchCaller(): void {
    const o = this.options;
    if (o === undefined) return;
    const signal = o.signal;
    // A caller's signal alone is handed to the attempt as is; listen only to stop a retry wait
    // or an attempt that has a signal of its own.
    const listen = o.caller !== undefined || (signal !== undefined && (this.retry !== undefined || this.runner.deadlines !== undefined));
    if (!listen) return;
    if (signal?.aborted) {
      this.gone = signal.reason ?? new Error('operation aborted');
      return;
    }
    this.onGone = () => this.leave();
    signal?.addEventListener('abort', this.onGone, { once: true });
    o.caller?.on('close', this.onGone);
  }

  private unwatchCaller(): void {
    const fn = this.onGone;
    if (fn === undefined) return;
    this.options?.signal?.removeEventListener('abort', fn);
    this.options?.caller?.removeListener('close', fn);
  }

  private leave(): void {
    if (this.gone !== undefined) return;
    const signal = this.options?.signal;
    this.gone = signal?.aborted ? (signal.reason ?? new Error('operation aborted')) : new Error('the caller went away');
    this.current?.cancel(this.gone);
    this.wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}

/**
 * One attempt that something may cut short: it is its own entry in the deadline queue and, when
 * the operation allows (RunOptions.lightSignal), its own abort signal; otherwise it makes a
 * native AbortController. Whichever comes first settles it: the answer, a failure, the deadline
 * or the caller leaving; what comes later is ignored (a late answer is released).
 */
class Attempt<T> extends LightSignal implements DeadlineEntry {
  due = 0;
  prev: DeadlineEntry | null = null;
  next: DeadlineEntry | null = null;
  queued = false;
  private done = false;
  private controller: AbortController | undefined = undefined;
  private resolve: (value: T) => void = noop;
  private reject: (err: unknown) => void = noop;

  constructor(
    private readonly owner: Operation<T>,
    private readonly deadlines: DeadlineQueue | undefined,
  ) {
    super();
  }

  start(op: Op<T>, light: boolean): Promise<T> {
    const result = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.deadlines?.add(this);
    let p: Promise<T>;
    try {
      p = op(light ? this : (this.controller = new AbortController()).signal);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then((v) => this.answered(v), (err: unknown) => this.failed(err));
    return result;
  }

  /** The deadline passed (the queue has already unlinked this entry). */
  expire(): void {
    if (this.done) return;
    this.done = true;
    this.owner.settled(this, true);
    const err = new PolicyError('timeout', DEADLINE_EXCEEDED);
    this.fire(err);
    this.reject(err);
  }

  cancel(reason: unknown): void {
    if (this.done) return;
    this.finish();
    this.fire(reason);
    this.reject(reason);
  }

  private fire(reason: unknown): void {
    if (this.controller) this.controller.abort(reason);
    else this.abort(reason);
  }

  private answered(value: T): void {
    if (this.done) return this.owner.late(value);
    this.finish();
    this.resolve(value);
  }

  private failed(err: unknown): void {
    if (this.done) return;
    this.finish();
    this.reject(err);
  }

  private finish(): void {
    this.done = true;
    this.deadlines?.remove(this);
    this.owner.settled(this, false);
  }
}

function noop(): void {}
