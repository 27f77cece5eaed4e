// Builds components from Component resources. Types are keyed by Dapr's type name, lower-cased,
// with aliases and versions: `<type>/<version>` is tried first, then, for an initial version
// ("", v0, v1), the unversioned registration.
import type { Category, Component, ComponentContext } from '../core/component.js';

export type Factory = (ctx: ComponentContext) => Promise<Component>;

/**
 * A factory whose module is imported on its first call: registering every backend then costs
 * nothing until a component of that type is configured (the import is cached by the runtime).
 */
export function lazy<M>(load: () => Promise<M>, pick: (m: M) => Factory): Factory {
  return async (ctx) => pick(await load())(ctx);
}

interface Entry {
  category: Category;
  factory: Factory;
}

const INITIAL_VERSIONS = new Set(['', 'v0', 'v1']);

export class ComponentRegistry {
  private readonly entries = new Map<string, Entry>();

  /** `types` are names such as `state.redis`, or `state.postgresql/v2` for a specific version. */
  register(category: Category, types: readonly string[], factory: Factory): this {
    for (const t of types) this.entries.set(t.toLowerCase(), { category, factory });
    return this;
  }

  lookup(type: string, version: string): Entry | undefined {
    const t = type.toLowerCase();
    const v = version.toLowerCase();
    return this.entries.get(`${t}/${v}`) ?? (INITIAL_VERSIONS.has(v) ? this.entries.get(t) : undefined);
  }

  /** Registered type names, for error messages. */
  types(category?: Category): string[] {
    return [...this.entries].filter(([, e]) => !category || e.category === category).map(([k]) => k).sort();
  }
}

export function categoryOf(type: string): Category | undefined {
  const prefix = type.toLowerCase().split('.')[0];
  const all: Category[] = ['state', 'pubsub', 'bindings', 'secretstores', 'configuration', 'lock', 'crypto', 'conversation', 'middleware'];
  return all.find((c) => c === prefix);
}
