// Bounds V8's young generation in processes that host sidecars. V8 doubles the new space under
// allocation pressure up to 2 × 16 MB (Node 20 on 64-bit); a proxy at full load allocates fast
// enough to reach that, so the largest part of its RSS growth under load was young-generation
// pages that are mostly garbage. 2 × 4 MB measured the same CPU per request on the fronting
// path (loadtest/ab.ts, both start orders) and about 45 MB less RSS at max load; see
// loadtest/README.md (Start-up and idle memory).
//
// `--max-semi-space-size` would be the direct way, but it only works on the node command line,
// and the sidecar also runs as `node dist/cli/main.js` (tests, load tests, the `bulwark` bin).
// V8 reads `--semi-space-growth-factor` each time it grows the new space, so once the new space
// reaches the bound, growth is turned off from inside. The check runs after each GC; GC
// notifications arrive on a later event-loop turn, so a doubling that happens before one is
// handled can overshoot the bound (not seen under the fronting benchmark: loadtest/README.md).
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

export const SEMI_SPACE_MB = 4;

/** True when the process was started with its own young-generation setting, which is kept. */
export function hasOwnSemiSpaceSetting(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((a) => /^--(max|min)[-_]semi[-_]space[-_]size\b|^--semi[-_]space[-_]growth[-_]factor\b/.test(a));
}

export function boundYoungGeneration(semiSpaceMB = SEMI_SPACE_MB): void {
  const limit = 2 * semiSpaceMB * 1024 * 1024;
  const reached = (): boolean => {
    for (const s of getHeapSpaceStatistics()) if (s.space_name === 'new_space') return s.space_size >= limit;
    return true;
  };
  const stopGrowing = (): void => setFlagsFromString('--semi-space-growth-factor=1');
  if (reached()) return stopGrowing();
  const observer = new PerformanceObserver(() => {
    if (!reached()) return;
    stopGrowing();
    observer.disconnect();
  });
  observer.observe({ entryTypes: ['gc'] });
}
