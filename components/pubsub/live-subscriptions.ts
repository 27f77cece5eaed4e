// The open subscriptions of one broker component: each handle given to the pub/sub block
// closes its own subscription and forgets it; the component's close() closes the rest.
import type { SubscriptionHandle } from '../../core/pubsub/component.js';

export class LiveSubscriptions<S extends { close(): Promise<void> }> implements Iterable<S> {
  private readonly open = new Set<S>();

  /** Keeps `sub` and returns the handle that closes it. */
  add(sub: S): SubscriptionHandle {
    this.open.add(sub);
    return {
      close: async () => {
        this.open.delete(sub);
        await sub.close();
      },
    };
  }

  async closeAll(): Promise<void> {
    const all = [...this.open];
    this.open.clear();
    await Promise.all(all.map((s) => s.close()));
  }

  [Symbol.iterator](): Iterator<S> {
    return this.open[Symbol.iterator]();
  }
}
