// The waits between retries, as dapr/kit configures cenkalti/backoff v4: constant waits exactly
// `duration`; exponential starts at 500 ms, grows x1.5 up to `maxInterval`, randomises each wait
// by +-50 % around the current interval (jitter stays out of the growth), and stops once the
// elapsed time plus the next wait would pass 15 minutes.
import type { RetrySpec } from './spec.js';

export interface Backoff {
  /** The next wait in ms given the time since the first attempt started, or undefined to stop. */
  next(elapsedMs: number): number | undefined;
}

const MULTIPLIER = 1.5;
const RANDOMIZATION = 0.5;

class ConstantBackoff implements Backoff {
  constructor(private readonly ms: number) {}
  next(): number {
    return this.ms;
  }
}

class ExponentialBackoff implements Backoff {
  private interval: number;

  constructor(private readonly spec: RetrySpec, private readonly random: () => number) {
    this.interval = spec.initialIntervalMs;
  }

  next(elapsedMs: number): number | undefined {
    const delta = RANDOMIZATION * this.interval;
    const lo = this.interval - delta;
    const wait = lo + this.random() * 2 * delta;
    const max = this.spec.maxIntervalMs;
    this.interval = this.interval >= max / MULTIPLIER ? max : this.interval * MULTIPLIER;
    if (this.spec.maxElapsedMs > 0 && elapsedMs + wait > this.spec.maxElapsedMs) return undefined;
    return wait;
  }
}

export function createBackoff(spec: RetrySpec, random: () => number = Math.random): Backoff {
  return spec.policy === 'exponential' ? new ExponentialBackoff(spec, random) : new ConstantBackoff(spec.durationMs);
}
