// Reads a YAML file into its documents, with YAML 1.1 scalars as Go's sigs.k8s.io/yaml reads
// them (`on`/`yes` are booleans). A syntax error names the file and the document.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import { ResourceError } from './resource-error.js';

// The yaml package (about 25 ms to load) is loaded by the first file read, not at start: a
// sidecar with no resource or configuration files never needs it.
let yaml: typeof Yaml | undefined;
const loadYaml = (): typeof Yaml => (yaml ??= createRequire(import.meta.url)('yaml') as typeof Yaml);

export interface YamlDocument {
  doc: number;
  value: unknown;
}

export function readYamlDocuments(file: string, text?: string): YamlDocument[] {
  let source = text;
  if (source === undefined) {
    try {
      source = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ResourceError(file, 0, '', `cannot read file: ${(err as Error).message}`, { cause: err });
    }
  }
  const docs = loadYaml().parseAllDocuments(source, { version: '1.1', prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const out: YamlDocument[] = [];
  list.forEach((d, i) => {
    if (d.errors.length > 0) {
      const e = d.errors[0]!;
      const line = e.linePos?.[0]?.line;
      throw new ResourceError(file, i + 1, '', `invalid YAML${line ? ` at line ${line}` : ''}: ${e.message.split('\n')[0]}`);
    }
    const value: unknown = d.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return; // empty document between separators
    out.push({ doc: i + 1, value });
  });
  return out;
}

/** `value` as one YAML document that this module's reader (YAML 1.1 scalars) reads back equal. */
export function stringifyYaml(value: unknown): string {
  return loadYaml().stringify(value, { version: '1.1' });
}
