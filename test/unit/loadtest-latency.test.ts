import { describe, expect, it } from 'vitest';
import { correctedLatency, dueAt, dueCount, modelRun, quantile, summarize } from '../../loadtest/latency.js';

describe('loadtest latency math', () => {
  it('schedules requests evenly and counts how many are due', () => {
    expect(dueAt(0, 1000)).toBe(0);
    expect(dueAt(250, 1000)).toBe(250);
    expect(dueAt(3, 200)).toBe(15);
    expect(dueCount(0, 1000)).toBe(1);
    expect(dueCount(9.99, 1000)).toBe(10);
    expect(dueCount(10, 1000)).toBe(11);
  });

  it('measures from the due time, not the send time', () => {
    expect(correctedLatency(100, 130)).toBe(30);
  });

  it('nearest-rank quantiles', () => {
    const s = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantile(s, 0.5)).toBe(50);
    expect(quantile(s, 0.9)).toBe(90);
    expect(quantile(s, 0.99)).toBe(99);
    expect(quantile(s, 1)).toBe(100);
    const sum = summarize([5, 1, 3]);
    expect(sum).toMatchObject({ count: 3, p50: 3, max: 5, mean: 3 });
  });

  it('a 100 ms stall at 1,000 req/s shows in about 100 corrected samples, but in one uncorrected', () => {
    const { corrected, uncorrected } = modelRun(1000, 1, 0.1, 500, 100);
    // Closed-loop view: only the request in service during the stall is slow.
    expect(uncorrected.filter((l) => l > 10).length).toBe(1);
    // Corrected view: every request due during the stall waited behind it (about 100 of them,
    // with latencies falling from ~100 ms to ~0 as the server catches up).
    const slow = corrected.filter((l) => l > 10).length;
    expect(slow).toBeGreaterThanOrEqual(90);
    expect(slow).toBeLessThanOrEqual(110);
    const c = summarize(corrected);
    const u = summarize(uncorrected);
    expect(c.max).toBeCloseTo(100.1, 5);
    expect(u.p99).toBeCloseTo(0.1, 5);
    expect(c.p99).toBeGreaterThan(80);
    expect(c.p90).toBeGreaterThan(0.1);
    expect(c.p50).toBeCloseTo(0.1, 5);
  });
});
