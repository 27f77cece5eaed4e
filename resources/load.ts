// Reads every YAML file directly inside the resources folders (no recursion), in folder ->
// file (alphabetical) -> document order, and decodes the Dapr kinds. Filters as Dapr does:
// namespace (only when NAMESPACE is set), duplicate names per kind (before scopes, so two
// same-named resources for different apps still collide), then scopes.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Cursor, isObject, type Obj } from './decode.js';
import { decodeComponent } from './component.js';
import { decodeHttpEndpoint } from './http-endpoint.js';
import { decodeSubscription } from './subscription.js';
import { ResourceError } from './resource-error.js';
import { readYamlDocuments } from './yaml-file.js';
import type { Resource, ResourceSet } from './types.js';

export interface LoadOptions {
  appId: string;
  /** The NAMESPACE environment value, when set. */
  namespace?: string;
}

const IGNORED_KINDS = new Set(['MCPServer', 'WorkflowAccessPolicy', 'Configuration']);

export function loadResources(folders: readonly string[], opts: LoadOptions): ResourceSet {
  const set: ResourceSet = { components: [], httpEndpoints: [], subscriptions: [], resiliencies: [], warnings: [] };
  const all: Resource[] = [];
  for (const folder of folders) {
    let entries: string[];
    try {
      if (!statSync(folder).isDirectory()) throw new Error('not a directory');
      entries = readdirSync(folder).sort();
    } catch (err) {
      throw new ResourceError(folder, 0, '', `resources path cannot be read: ${(err as Error).message}`, { cause: err });
    }
    for (const entry of entries) {
      const file = join(folder, entry);
      if (!statSync(file).isFile()) continue;
      if (!/\.ya?ml$/i.test(entry)) {
        set.warnings.push(`skipping ${file}: not a .yaml or .yml file`);
        continue;
      }
      for (const { doc, value } of readYamlDocuments(file)) {
        const r = decodeDocument(file, doc, value, set.warnings);
        if (r) all.push(r);
      }
    }
  }
  return filterResources(all, opts, set);
}

/** Decodes one document into a resource, or null for kinds a sidecar ignores. */
export function decodeDocument(file: string, doc: number, value: unknown, warnings: string[]): Resource | null {
  const c = new Cursor(file, doc, '');
  if (!isObject(value)) return c.fail('a resource document must be a mapping');
  const apiVersion = c.string(value, 'apiVersion');
  const kind = c.string(value, 'kind');
  if (!apiVersion || !apiVersion.startsWith('dapr.io/')) {
    warnings.push(`skipping ${file} document ${doc}: apiVersion ${apiVersion ?? '(none)'} is not dapr.io`);
    return null;
  }
  if (!kind) return c.at('kind').fail('is required');
  if (IGNORED_KINDS.has(kind)) {
    if (kind === 'Configuration') warnings.push(`${file} document ${doc}: Configuration in a resources folder is ignored; pass it with --config`);
    return null;
  }
  const meta = c.object(value, 'metadata') ?? c.at('metadata').fail('is required');
  const name = c.at('metadata').string(meta, 'name', true)!;
  if (name === '.' || name === '..' || /[/%]/.test(name)) c.at('metadata.name').fail(`invalid name ${JSON.stringify(name)}: may not be . or .. or contain / or %`);
  const namespace = c.at('metadata').string(meta, 'namespace');
  const expect = (v: string): void => {
    if (apiVersion !== v) c.at('apiVersion').fail(`${kind} needs apiVersion ${v}, got ${apiVersion}`);
  };
  switch (kind) {
    case 'Component':
      expect('dapr.io/v1alpha1');
      return decodeComponent(c, value, name, namespace);
    case 'HTTPEndpoint':
      expect('dapr.io/v1alpha1');
      return decodeHttpEndpoint(c, value, name, namespace);
    case 'Subscription':
      if (apiVersion !== 'dapr.io/v1alpha1' && apiVersion !== 'dapr.io/v2alpha1') {
        c.at('apiVersion').fail(`Subscription needs apiVersion dapr.io/v2alpha1 or dapr.io/v1alpha1, got ${apiVersion}`);
      }
      return decodeSubscription(c, value, name, apiVersion);
    case 'Resiliency': {
      expect('dapr.io/v1alpha1');
      const spec = c.object(value, 'spec') ?? c.at('spec').fail('is required');
      return { kind: 'Resiliency', name, spec, scopes: c.strings(value, 'scopes'), origin: { file, doc } };
    }
    default:
      return c.at('kind').fail(`unknown kind ${kind}: expected Component, Configuration, Resiliency, Subscription or HTTPEndpoint`);
  }
}

function filterResources(all: Resource[], opts: LoadOptions, set: ResourceSet): ResourceSet {
  const seen = new Map<string, Resource>();
  for (const r of all) {
    if (r.kind !== 'Subscription' && opts.namespace && 'namespace' in r && r.namespace && r.namespace !== opts.namespace) continue;
    if (r.kind !== 'Subscription') {
      const key = `${r.kind}/${r.name}`;
      const first = seen.get(key);
      if (first) {
        throw new ResourceError(r.origin.file, r.origin.doc, 'metadata.name',
          `duplicate ${r.kind} name ${r.name}: also defined in ${first.origin.file}, document ${first.origin.doc}`);
      }
      seen.set(key, r);
    }
    if (r.scopes.length > 0 && !r.scopes.includes(opts.appId)) continue;
    switch (r.kind) {
      case 'Component': set.components.push(r); break;
      case 'HTTPEndpoint': set.httpEndpoints.push(r); break;
      case 'Subscription': set.subscriptions.push(r); break;
      case 'Resiliency': set.resiliencies.push(r); break;
    }
  }
  return set;
}

export type { Obj };
