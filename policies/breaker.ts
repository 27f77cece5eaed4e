// A circuit breaker with the state machine Dapr gets from sony/gobreaker v0.5.0: counts per
// generation, a closed-state window (`interval`), lazy open -> half-open after `timeout`,
// `maxRequests` probes while half-open (and as many successes to close), and the `trip`
// expression evaluated after each failure while closed. Results of requests started in an
// earlier generation are ignored.
import { PolicyError } from '../core/policy.js';
import type { BreakerSpec } from './spec.js';

export type BreakerState = 'closed' | 'half-open' | 'open';

export type StateListener = (breaker: Breaker, from: BreakerState, to: BreakerState) => void;

export class Breaker {
  private state: BreakerState = 'closed';
  private generation = 0;
  private expiry = 0;
  private requests = 0;
  private totalSuccesses = 0;
  private totalFailures = 0;
  private consecutiveSuccesses = 0;
  private consecutiveFailures = 0;

  constructor(
    /** The breaker key (`appB:method`, component name, actor type...). */
    readonly key: string,
    readonly spec: BreakerSpec,
    private readonly onChange: StateListener | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.newGeneration(this.now());
  }

  /** The state as the next request would see it. */
  current(): BreakerState {
    return this.currentAt(this.now());
  }

  /** Admits one request or throws the rejection; returns the generation to report back. */
  before(): number {
    const state = this.currentAt(this.now());
    if (state === 'open') throw new PolicyError('breakerOpen', 'circuit breaker is open');
    if (state === 'half-open' && this.requests >= this.spec.maxRequests) {
      throw new PolicyError('breakerTooManyRequests', 'too many requests');
    }
    this.requests++;
    return this.generation;
  }

  /** Reports the outcome of a request admitted in `generation`. */
  after(generation: number, success: boolean): void {
    const now = this.now();
    const state = this.currentAt(now);
    if (generation !== this.generation) return;
    if (success) {
      this.totalSuccesses++;
      this.consecutiveSuccesses++;
      this.consecutiveFailures = 0;
      if (state === 'half-open' && this.consecutiveSuccesses >= this.spec.maxRequests) this.setState('closed', now);
      return;
    }
    this.totalFailures++;
    this.consecutiveFailures++;
    this.consecutiveSuccesses = 0;
    if (state === 'half-open') this.setState('open', now);
    else if (state === 'closed' && this.spec.trip.holds(this.counts())) this.setState('open', now);
  }

  counts(): Record<string, number> {
    return {
      requests: this.requests,
      totalSuccesses: this.totalSuccesses,
      totalFailures: this.totalFailures,
      consecutiveSuccesses: this.consecutiveSuccesses,
      consecutiveFailures: this.consecutiveFailures,
    };
  }

  private currentAt(now: number): BreakerState {
    if (this.state === 'closed') {
      if (this.expiry !== 0 && this.expiry < now) this.newGeneration(now);
    } else if (this.state === 'open' && this.expiry < now) {
      this.setState('half-open', now);
    }
    return this.state;
  }

  private setState(to: BreakerState, now: number): void {
    if (this.state === to) return;
    const from = this.state;
    this.state = to;
    this.newGeneration(now);
    this.onChange?.(this, from, to);
  }

  private newGeneration(now: number): void {
    this.generation++;
    this.requests = 0;
    this.totalSuccesses = 0;
    this.totalFailures = 0;
    this.consecutiveSuccesses = 0;
    this.consecutiveFailures = 0;
    if (this.state === 'closed') this.expiry = this.spec.intervalMs > 0 ? now + this.spec.intervalMs : 0;
    else if (this.state === 'open') this.expiry = now + this.spec.timeoutMs;
    else this.expiry = 0;
  }
}
