// The young-generation bound of processes that host sidecars (cli/young-generation.ts): run in
// a child process, as it changes V8 flags for the whole process.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasOwnSemiSpaceSetting } from '../../cli/young-generation.js';

const MODULE = join(import.meta.dirname, '../../dist/cli/young-generation.js');

/** Allocates with survivors over many event-loop turns (as a busy server does) and prints the largest new space seen, in MB. */
function largestNewSpaceMB(bound: boolean): number {
  const script = `
    import { getHeapSpaceStatistics } from 'node:v8';
    import { boundYoungGeneration } from ${JSON.stringify(MODULE)};
    if (${bound}) boundYoungGeneration(2);
    let keep = [], largest = 0;
    for (let turn = 0; turn < 400; turn++) {
      for (let i = 0; i < 5000; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 20000) keep = []; }
      for (const s of getHeapSpaceStatistics()) if (s.space_name === 'new_space') largest = Math.max(largest, s.space_size);
      await new Promise((r) => setImmediate(r));
    }
    console.log(largest / 1048576);`;
  return Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).trim());
}

describe('young generation bound', () => {
  it('stops the new space growing at twice the semi-space bound; without it the same load grows it further', () => {
    expect(largestNewSpaceMB(true)).toBe(4);
    expect(largestNewSpaceMB(false)).toBeGreaterThan(4);
  });

  it('keeps a young-generation setting given on the node command line or in NODE_OPTIONS', () => {
    expect(hasOwnSemiSpaceSetting([], undefined)).toBe(false);
    expect(hasOwnSemiSpaceSetting(['--max-old-space-size=512'], '--enable-source-maps')).toBe(false);
    expect(hasOwnSemiSpaceSetting(['--max-semi-space-size=8'], undefined)).toBe(true);
    expect(hasOwnSemiSpaceSetting([], '--trace-gc --max_semi_space_size=2')).toBe(true);
    expect(hasOwnSemiSpaceSetting([], '--semi-space-growth-factor=3')).toBe(true);
  });
});
