// Re-reading the resources folders for Resiliency changes: per-file last good version, scopes,
// other kinds ignored, unchanged content not re-applied. (The integration suite covers the
// file watching itself through a real sidecar.)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../core/component.js';
import { ResiliencyWatcher } from '../../policies/reload.js';
import type { ResiliencySpec } from '../../policies/spec.js';

function res(name: string, maxRetries: string, scopes = ''): string {
  return `apiVersion: dapr.io/v1alpha1\nkind: Resiliency\nmetadata:\n  name: ${name}\n${scopes}spec:\n  policies:\n    retries:\n      r: { maxRetries: ${maxRetries} }\n`;
}

function setup(): { dir: string; applied: ResiliencySpec[][]; errors: string[]; watcher: ResiliencyWatcher } {
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-reload-'));
  const applied: ResiliencySpec[][] = [];
  const errors: string[] = [];
  const logger: Logger = { debug() {}, info() {}, warn() {}, error: (m) => void errors.push(m), child: () => logger };
  const watcher = new ResiliencyWatcher({ appId: 'me', folders: [dir], logger, apply: (s) => void applied.push(s) });
  return { dir, applied, errors, watcher };
}

const retries = (specs: ResiliencySpec[] | undefined): Array<[string, number]> => (specs ?? []).map((s) => [s.name, s.retries.get('r')!.maxRetries]);

describe('Resiliency re-reading', () => {
  it('applies a changed file, keeps the last good version of a broken one, and drops a removed one', () => {
    const { dir, applied, errors, watcher } = setup();
    writeFileSync(join(dir, 'a.yaml'), res('a', '1'));
    writeFileSync(join(dir, 'b.yaml'), res('b', '2'));
    watcher.scan(false);
    expect(applied).toHaveLength(0);

    writeFileSync(join(dir, 'a.yaml'), res('a', '5'));
    watcher.scan(true);
    expect(retries(applied.at(-1))).toEqual([['a', 5], ['b', 2]]);

    writeFileSync(join(dir, 'b.yaml'), res('b', '"many"'));
    watcher.scan(true);
    expect(applied).toHaveLength(1); // nothing new to apply: b keeps its last good version
    expect(errors.at(-1)).toMatch(/b\.yaml.*spec\.policies\.retries\.r\.maxRetries.*keeping the last good version \(b\)/);

    writeFileSync(join(dir, 'b.yaml'), 'kind: Resiliency\nspec: [unclosed');
    watcher.scan(true);
    expect(applied).toHaveLength(1);
    expect(errors.at(-1)).toMatch(/b\.yaml.*invalid YAML/);

    rmSync(join(dir, 'b.yaml'));
    watcher.scan(true);
    expect(retries(applied.at(-1))).toEqual([['a', 5]]);
  });

  it('ignores other kinds and resources scoped to other apps, and does not re-apply unchanged content', () => {
    const { dir, applied, watcher } = setup();
    writeFileSync(join(dir, 'mixed.yaml'), `apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: c\nspec:\n  type: state.in-memory\n  version: v1\n---\n${res('mine', '3', 'scopes: [me]\n')}---\n${res('theirs', '4', 'scopes: [other]\n')}`);
    watcher.scan(true);
    expect(retries(applied.at(-1))).toEqual([['mine', 3]]);
    writeFileSync(join(dir, 'component.yaml'), 'apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: d\nspec:\n  type: state.in-memory\n  version: v1\n');
    watcher.scan(true);
    expect(applied).toHaveLength(1);
  });
});
