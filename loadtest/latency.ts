// Latency math for the load generator (pure; unit-tested in test/unit/loadtest-latency.test.ts).
//
// Coordinated omission: a closed-loop client that waits for each answer before sending the next
// request stops sending while the server stalls, so the stall shows up in one sample instead of in
// every request that should have been sent meanwhile. At a fixed rate the schedule is fixed in
// advance (request i is due at t0 + i / rate) and each latency is measured from the moment the
// request was DUE, not from the moment it was actually written: time spent queued behind a slow
// answer (no free connection, client late) counts, as in wrk2.

/** When request `i` is due, in ms after the start, at `rate` requests per second. */
export function dueAt(i: number, rate: number): number {
  return (i * 1000) / rate;
}

/** Latency corrected for coordinated omission: from the scheduled time to the answer (ms). */
export function correctedLatency(due: number, answered: number): number {
  return answered - due;
}

/** How many requests are due at `elapsed` ms after the start (the schedule's running total). */
export function dueCount(elapsed: number, rate: number): number {
  return Math.floor((elapsed * rate) / 1000) + 1;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank quantile of an ascending array (q in [0, 1]). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(samples: ArrayLike<number>): LatencySummary {
  const s = Float64Array.from(samples as ArrayLike<number>).sort();
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += s[i]!;
  return {
    count: s.length,
    p50: quantile(s, 0.5),
    p90: quantile(s, 0.9),
    p99: quantile(s, 0.99),
    max: s.length > 0 ? s[s.length - 1]! : NaN,
    mean: s.length > 0 ? sum / s.length : NaN,
  };
}

/**
 * The latencies reported for a server that answers one request at a time in `serviceMs`, and
 * once, for the request in service at `stallAt` ms, takes `stallMs` longer: a model that checks the
 * correction. `corrected` is measured from each request's due time; `uncorrected` from the moment
 * it could actually be sent (what a closed-loop client reports).
 */
export function modelRun(rate: number, seconds: number, serviceMs: number, stallAt: number, stallMs: number): { corrected: number[]; uncorrected: number[] } {
  const n = Math.round(rate * seconds);
  const corrected: number[] = [];
  const uncorrected: number[] = [];
  let free = 0;
  let stalled = false;
  for (let i = 0; i < n; i++) {
    const due = dueAt(i, rate);
    const sent = Math.max(due, free);
    let end = sent + serviceMs;
    if (!stalled && end > stallAt) {
      stalled = true;
      end += stallMs;
    }
    free = end;
    corrected.push(correctedLatency(due, end));
    uncorrected.push(end - sent);
  }
  return { corrected, uncorrected };
}
