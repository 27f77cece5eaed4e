// The distributed lock block: Dapr's validation order, key scheme, outbound policy.
import type { LoadedComponent } from '../block.js';
import { meta } from '../component.js';
import { DaprError } from '../errors.js';
import type { PolicyProvider } from '../policy.js';
import type { LockStore, UnlockStatusCode } from './component.js';
import { lockKey, lockKeyStrategy, type LockKeyStrategy } from './keys.js';

interface Entry {
  store: LockStore;
  keys: LockKeyStrategy;
}

export class LockService {
  private readonly stores = new Map<string, Entry>();

  constructor(
    loaded: ReadonlyMap<string, LoadedComponent>,
    private readonly appId: string,
    private readonly policies: PolicyProvider,
  ) {
    for (const [name, c] of loaded) {
      this.stores.set(name, { store: c.instance as LockStore, keys: lockKeyStrategy(meta(c.metadata, 'keyPrefix')) });
    }
  }

  get names(): string[] {
    return [...this.stores.keys()];
  }

  async tryLock(storeName: string, resourceId: string, owner: string, expiry: number): Promise<boolean> {
    if (!(expiry > 0)) throw new DaprError('malformedRequest', `ExpiryInSeconds is not positive in lock store ${storeName}`);
    const entry = this.lookup(storeName, resourceId, owner);
    try {
      const key = lockKey(entry.keys, storeName, this.appId, resourceId);
      return await this.policies.componentOutbound(storeName).run(() => entry.store.tryLock(key, owner, expiry));
    } catch (err) {
      throw new DaprError('tryLock', `failed to try acquiring lock: ${(err as Error).message}`, { cause: err });
    }
  }

  async unlock(storeName: string, resourceId: string, owner: string): Promise<UnlockStatusCode> {
    const entry = this.lookup(storeName, resourceId, owner);
    try {
      const key = lockKey(entry.keys, storeName, this.appId, resourceId);
      return await this.policies.componentOutbound(storeName).run(() => entry.store.unlock(key, owner));
    } catch (err) {
      throw new DaprError('unlock', `failed to release lock: ${(err as Error).message}`, { cause: err });
    }
  }

  private lookup(storeName: string, resourceId: string, owner: string): Entry {
    if (this.stores.size === 0) throw new DaprError('lockStoreNotConfigured', 'lock store is not configured');
    if (!resourceId) throw new DaprError('malformedRequest', `ResourceId is empty in lock store ${storeName}`);
    if (!owner) throw new DaprError('malformedRequest', `LockOwner is empty in lock store ${storeName}`);
    const entry = this.stores.get(storeName);
    if (!entry) throw new DaprError('lockStoreNotFound', `lock store ${storeName} not found`);
    return entry;
  }
}
