// Where Resiliency resources come from after start-up: the resources folders, watched. Any
// change re-reads every Resiliency in them; a file that fails to read, decode or validate keeps
// the version last loaded from it (and the log says why), so a broken edit never drops policies.
// Unchanged content (a Component file was edited) does not rebuild, so breaker state survives.
import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/component.js';
import { isObject } from '../resources/decode.js';
import { decodeDocument } from '../resources/load.js';
import type { ResiliencyResource } from '../resources/types.js';
import { readYamlDocuments } from '../resources/yaml-file.js';
import { parseResiliency, type ResiliencySpec } from './spec.js';

export interface ResiliencySourceOptions {
  appId: string;
  folders: readonly string[];
  logger: Logger;
  /** Receives the full new list whenever it changes. */
  apply(specs: ResiliencySpec[]): void;
  /** Milliseconds to wait for a burst of file events to settle. */
  debounceMs?: number;
}

interface FileEntry {
  fingerprint: string;
  specs: ResiliencySpec[];
}

/** Parses the resources decoded at start-up, skipping (and logging) invalid ones as Dapr does. */
export function parseAll(resources: readonly ResiliencyResource[], logger: Logger): ResiliencySpec[] {
  const out: ResiliencySpec[] = [];
  for (const r of resources) {
    try {
      out.push(parseResiliency(r));
    } catch (err) {
      logger.error(`Could not read resiliency policy ${r.name}: ${(err as Error).message}`);
    }
  }
  return out;
}

export class ResiliencyWatcher {
  private readonly files = new Map<string, FileEntry>();
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private fingerprint = '';

  constructor(private readonly opts: ResiliencySourceOptions) {}

  /** Reads the folders once (the baseline for later changes) and starts watching. */
  start(): void {
    this.scan(false);
    for (const folder of this.opts.folders) {
      try {
        const w = watch(folder, { persistent: false }, (_event, name) => {
          if (name && !/\.ya?ml$/i.test(String(name))) return;
          this.schedule();
        });
        w.on('error', (err) => this.opts.logger.warn(`resiliency: watching ${folder} failed: ${err.message}`));
        this.watchers.push(w);
      } catch (err) {
        this.opts.logger.warn(`resiliency: cannot watch ${folder}: ${(err as Error).message}`);
      }
    }
  }

  close(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers.splice(0)) w.close();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.scan(true), this.opts.debounceMs ?? 100);
    this.timer.unref();
  }

  /** Re-reads every file; applies the result when anything Resiliency-related changed. */
  scan(apply: boolean): void {
    const seen = new Set<string>();
    for (const folder of this.opts.folders) {
      let names: string[];
      try {
        names = readdirSync(folder).sort();
      } catch (err) {
        this.opts.logger.error(`resiliency: cannot read ${folder}: ${(err as Error).message}; keeping the policies in force`);
        return;
      }
      for (const name of names) {
        if (!/\.ya?ml$/i.test(name)) continue;
        const file = join(folder, name);
        try {
          if (!statSync(file).isFile()) continue;
        } catch {
          continue; // removed between readdir and stat
        }
        seen.add(file);
        this.readFile(file);
      }
    }
    for (const file of [...this.files.keys()]) if (!seen.has(file)) this.files.delete(file);
    const fingerprint = [...this.files].filter(([, e]) => e.fingerprint !== '').map(([f, e]) => `${f}\n${e.fingerprint}`).join('\n');
    if (fingerprint === this.fingerprint) return;
    this.fingerprint = fingerprint;
    if (!apply) return;
    const specs = [...this.files.values()].flatMap((e) => e.specs);
    this.opts.logger.info(`resiliency reloaded: ${specs.length} resource(s)${specs.length ? ` (${specs.map((s) => s.name).join(', ')})` : ''}`);
    this.opts.apply(specs);
  }

  private readFile(file: string): void {
    const previous = this.files.get(file);
    const raw: string[] = [];
    const specs: ResiliencySpec[] = [];
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
      for (const { doc, value } of readYamlDocuments(file, text)) {
        if (!isObject(value) || value.kind !== 'Resiliency') continue;
        raw.push(JSON.stringify(value));
        const r = decodeDocument(file, doc, value, []);
        if (r?.kind !== 'Resiliency') continue;
        if (r.scopes.length > 0 && !r.scopes.includes(this.opts.appId)) continue;
        specs.push(parseResiliency(r));
      }
    } catch (err) {
      // A half-written or broken file: keep what it held before.
      if (raw.length > 0 || previous?.specs.length || /kind:\s*["']?Resiliency/.test(text)) {
        this.opts.logger.error(`Could not read resiliency policy in ${file}: ${(err as Error).message}; keeping the last good version${previous?.specs.length ? ` (${previous.specs.map((s) => s.name).join(', ')})` : ''}`);
      }
      if (!previous) this.files.set(file, { fingerprint: '', specs: [] });
      return;
    }
    this.files.set(file, { fingerprint: raw.join('\n'), specs });
  }
}
