// What the configuration block needs from a configuration store.
import type { Component } from '../component.js';

export interface ConfigurationItem {
  value: string;
  version?: string;
  metadata?: Record<string, string>;
}

export type ConfigurationItems = Record<string, ConfigurationItem>;

/** The changed items of one update; a deleted key maps to null, as Dapr's stores send it. */
export type ConfigurationUpdate = Record<string, ConfigurationItem | null>;

/** Called with the changed items of one update; rejects when the app did not take them. */
export type ConfigurationUpdateHandler = (id: string, items: ConfigurationUpdate) => Promise<void>;

export interface ConfigurationStore extends Component {
  /** `keys` empty means every item. Missing keys are left out of the result. */
  get(keys: readonly string[], metadata: Record<string, string>): Promise<ConfigurationItems>;
  /** Starts watching `keys` (empty: all); returns the subscription id. */
  subscribe(keys: readonly string[], metadata: Record<string, string>, handler: ConfigurationUpdateHandler): Promise<string>;
  /** Throws when `id` is not a subscription of this store. */
  unsubscribe(id: string): Promise<void>;
}

/** Keeps a store's subscriptions by id (shared bookkeeping for the store implementations). */
export class SubscriptionTable<S> {
  private readonly subs = new Map<string, S>();

  add(id: string, sub: S): void {
    this.subs.set(id, sub);
  }

  /** Removes and returns the subscription, or throws Dapr's "not found" wording. */
  take(id: string): S {
    const s = this.subs.get(id);
    if (!s) throw new Error(`subscription with id ${id} does not exist`);
    this.subs.delete(id);
    return s;
  }

  values(): IterableIterator<S> {
    return this.subs.values();
  }

  get size(): number {
    return this.subs.size;
  }

  clear(): S[] {
    const all = [...this.subs.values()];
    this.subs.clear();
    return all;
  }
}
