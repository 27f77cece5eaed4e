// Builds the components of a resource set: secret stores first (other components may reference
// them through secretKeyRef), then the rest in file order. Each init is bounded by its
// initTimeout; a failure stops the sidecar unless the component says ignoreErrors.
import type { ComponentSet, LoadedComponent } from '../core/block.js';
import type { Category, Component, ComponentContext, Logger } from '../core/component.js';
import type { SecretStore } from '../core/secrets/component.js';
import { categoryOf, type ComponentRegistry } from '../components/registry.js';
import { ResourceError } from '../resources/resource-error.js';
import { resolveMetadata, type ResolveContext } from '../resources/resolve.js';
import type { ComponentResource } from '../resources/types.js';

/** What every component is created with, less what each resource names itself; and the component types refused. */
export interface LoadContext extends Omit<ComponentContext, 'name' | 'type' | 'version' | 'metadata'> {
  deny: readonly string[];
}

export class LoadedComponents implements ComponentSet {
  private readonly list: LoadedComponent[] = [];

  add(c: LoadedComponent): void {
    this.list.push(c);
  }

  all(): readonly LoadedComponent[] {
    return this.list;
  }

  of<T extends Component>(category: Category): ReadonlyMap<string, T> {
    return new Map(this.list.filter((c) => c.category === category).map((c) => [c.name, c.instance as T]));
  }

  loaded(category: Category): ReadonlyMap<string, LoadedComponent> {
    return new Map(this.list.filter((c) => c.category === category).map((c) => [c.name, c]));
  }

  async closeAll(logger: Logger): Promise<void> {
    await Promise.all(
      this.list.map(async (c) => {
        try {
          await c.instance.close?.();
        } catch (err) {
          logger.warn(`closing component ${c.name}: ${(err as Error).message}`);
        }
      }),
    );
  }
}

export async function loadComponents(resources: readonly ComponentResource[], registry: ComponentRegistry, ctx: LoadContext): Promise<LoadedComponents> {
  const set = new LoadedComponents();
  const resolveCtx: ResolveContext = {
    appId: ctx.appId,
    env: ctx.env,
    getSecret: async (store, name) => {
      const s = set.of<SecretStore>('secretstores').get(store);
      if (!s) throw new Error(`secret store ${store} is not loaded`);
      return s.getSecret(name, ctx.namespace ? { namespace: ctx.namespace } : {});
    },
  };
  if (ctx.namespace) resolveCtx.namespace = ctx.namespace;
  const isSecretStore = (r: ComponentResource): boolean => categoryOf(r.type) === 'secretstores';
  const ordered = [...resources.filter(isSecretStore), ...resources.filter((r) => !isSecretStore(r))];
  for (const r of ordered) {
    try {
      set.add(await initOne(r, registry, ctx, resolveCtx));
    } catch (err) {
      if (!r.ignoreErrors) throw err;
      ctx.logger.warn(`component ${r.name} (${r.type}) failed to initialize and is skipped (ignoreErrors): ${(err as Error).message}`);
    }
  }
  return set;
}

async function initOne(r: ComponentResource, registry: ComponentRegistry, ctx: LoadContext, resolveCtx: ResolveContext): Promise<LoadedComponent> {
  const fail = (field: string, reason: string, cause?: unknown): never => {
    throw new ResourceError(r.origin.file, r.origin.doc, field, reason, cause ? { cause } : undefined);
  };
  if (ctx.deny.length > 0) {
    if (!r.type || !r.version) fail('spec.version', `component ${r.name} needs spec.type and spec.version when Configuration spec.components.deny is set`);
    if (ctx.deny.includes(r.type) || ctx.deny.includes(`${r.type}/${r.version}`)) fail('spec.type', `component type ${r.type}/${r.version} is denied by the Configuration`);
  }
  const category = categoryOf(r.type);
  const entry = registry.lookup(r.type, r.version);
  if (!category || !entry) {
    const known = category ? registry.types(category) : [];
    fail('spec.type', `couldn't find ${category ?? 'component'} ${r.type}/${r.version || 'v1'}${known.length ? ` (known: ${known.join(', ')})` : ''}`);
  }
  const metadata = await resolveMetadata(r.metadata, { origin: r.origin, field: 'spec.metadata', ...(r.secretStore ? { secretStore: r.secretStore } : {}) }, resolveCtx);
  const logger = ctx.logger.child({ component: `${r.name} (${r.type}/${r.version || 'v1'})` });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`init timed out after ${r.initTimeoutMs}ms`)), r.initTimeoutMs);
  });
  let instance: Component;
  try {
    const ctxFull = { name: r.name, type: r.type, version: r.version, metadata, appId: ctx.appId, homeDir: ctx.homeDir, cwd: ctx.cwd, env: ctx.env, logger, ...(ctx.namespace ? { namespace: ctx.namespace } : {}) };
    instance = await Promise.race([entry!.factory(ctxFull), timeout]);
  } catch (err) {
    return fail('spec', `component ${r.name} (${r.type}) failed to initialize: ${(err as Error).message}`, err);
  } finally {
    clearTimeout(timer);
  }
  logger.info(`component loaded: ${r.name} (${r.type}/${r.version || 'v1'})`);
  return { name: r.name, type: r.type, version: r.version || 'v1', category: category!, instance, metadata };
}
