// The secrets building block: stores by name, Configuration secret scopes, resiliency slot.
import { DaprError } from '../errors.js';
import type { PolicyProvider } from '../policy.js';
import type { SecretScope } from '../../resources/configuration.js';
import type { SecretStore } from './component.js';


export class SecretsService {
  private readonly scopes: Map<string, SecretScope>;

  constructor(
    private readonly stores: ReadonlyMap<string, SecretStore>,
    scopes: readonly SecretScope[],
    private readonly policies: PolicyProvider,
  ) {
    this.scopes = new Map(scopes.map((s) => [s.storeName, s]));
  }

  isAllowed(store: string, key: string): boolean {
    const scope = this.scopes.get(store);
    if (!scope) return true;
    if (scope.allowedSecrets.length > 0) return scope.allowedSecrets.includes(key);
    if (scope.deniedSecrets.includes(key)) return false;
    return scope.defaultAccess === 'allow';
  }

  private store(name: string): SecretStore {
    if (this.stores.size === 0) throw new DaprError('secretStoresNotConfigured', 'secret store is not configured');
    const store = this.stores.get(name);
    if (!store) throw new DaprError('secretStoreNotFound', `failed finding secret store with key ${name}`);
    return store;
  }

  async get(storeName: string, key: string, metadata: Record<string, string>): Promise<Record<string, string>> {
    const store = this.store(storeName);
    if (!this.isAllowed(storeName, key)) {
      throw new DaprError('secretPermissionDenied', `access denied by policy to get "${key}" from "${storeName}"`);
    }
    try {
      return await this.policies.componentOutbound(storeName).run(() => store.getSecret(key, metadata));
    } catch (err) {
      if (err instanceof DaprError) throw err;
      throw new DaprError('secretGet', `failed getting secret with key ${key} from secret store ${storeName}: ${(err as Error).message}`, { cause: err });
    }
  }

  async bulk(storeName: string, metadata: Record<string, string>): Promise<Record<string, Record<string, string>>> {
    const store = this.store(storeName);
    let all: Record<string, Record<string, string>>;
    try {
      all = await this.policies.componentOutbound(storeName).run(() => store.bulkGetSecret(metadata));
    } catch (err) {
      if (err instanceof DaprError) throw err;
      throw new DaprError('secretGet', `failed getting secrets from secret store ${storeName}: ${(err as Error).message}`, { cause: err });
    }
    // Secrets denied by the scopes are left out silently, as Dapr does.
    const out: Record<string, Record<string, string>> = {};
    for (const k of Object.keys(all)) if (this.isAllowed(storeName, k)) out[k] = all[k]!;
    return out;
  }
}
