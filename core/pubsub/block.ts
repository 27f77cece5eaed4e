// The pub/sub building block: publish routes, and, once the app is reachable, its subscriptions
// (declarative resources and the app's GET /dapr/subscribe) each wired to a broker subscription
// that delivers through SubscriptionDelivery.
import type { Block, BlockContext, BlockFactory } from '../block.js';
import type { SubscriptionHandle } from './component.js';
import { SubscriptionDelivery } from './delivery.js';
import { pubsubGrpc } from './grpc.js';
import { pubsubRoutes } from './routes.js';
import { isTopicAllowed } from './scopes.js';
import { PubSubService } from './service.js';
import { describeSubscription, fromAppAnswer, fromResource, type Subscription } from './subscriptions.js';

const RESUBSCRIBE_MAX_MS = 10_000;

interface Active {
  sub: Subscription;
  delivery: SubscriptionDelivery;
  handle: SubscriptionHandle;
}

export const pubsubBlock: BlockFactory = (ctx) => {
  const service = PubSubService.fromComponents(ctx.appId, ctx.components.loaded('pubsub'), ctx.policies);
  // Compiled now, so a bad rule in a resource stops start-up with the file and field named.
  const declarative = ctx.resources.subscriptions.map(fromResource);
  return new PubSubBlock(ctx, service, declarative);
};

class PubSubBlock implements Block {
  readonly name = 'pubsub';
  readonly routes;
  readonly grpcServices;
  private readonly active: Active[] = [];
  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly ctx: BlockContext,
    private readonly service: PubSubService,
    private readonly declarative: Subscription[],
  ) {
    this.routes = pubsubRoutes(service, ctx.telemetry);
    this.grpcServices = pubsubGrpc(service, ctx.telemetry);
  }

  metadata(out: Record<string, unknown>): void {
    out.subscriptions = this.active.map((a) => describeSubscription(a.sub));
  }

  async onAppReady(): Promise<void> {
    if (!this.ctx.app || this.service.names.length === 0) return;
    const programmatic = await this.discover();
    const seen = new Set<string>();
    for (const sub of [...programmatic, ...this.declarative]) {
      const key = `${sub.pubsubName}\u0000${sub.topic}`;
      if (seen.has(key)) {
        this.ctx.logger.warn(`subscription ${sub.name}: topic ${sub.topic} on ${sub.pubsubName} already has a subscription; ignoring this one`);
        continue;
      }
      seen.add(key);
      const entry = this.service.find(sub.pubsubName);
      if (!entry) {
        this.ctx.logger.error(`subscription ${sub.name}: pubsub ${sub.pubsubName} is not loaded; not subscribing to ${sub.topic}`);
        continue;
      }
      if (!isTopicAllowed(entry.scopes, 'subscribe', sub.topic)) {
        this.ctx.logger.warn(`subscription ${sub.name}: topic ${sub.topic} is not allowed for app id ${this.ctx.appId} on ${sub.pubsubName}; not subscribing`);
        continue;
      }
      const delivery = new SubscriptionDelivery(sub, entry, this.ctx.app, this.ctx.policies.componentInbound(entry.name), this.ctx.logger, this.ctx.telemetry);
      await this.subscribe(delivery, 0);
    }
  }

  /** Subscribes, retrying in the background with backoff while the broker refuses. */
  private async subscribe(delivery: SubscriptionDelivery, attempt: number): Promise<void> {
    if (this.closed) return;
    const { sub } = delivery;
    const entry = this.service.find(sub.pubsubName)!;
    try {
      const handle = await entry.broker.subscribe({ topic: sub.topic, metadata: { ...sub.metadata } }, delivery.handle);
      if (this.closed) {
        await handle.close();
        return;
      }
      this.active.push({ sub, delivery, handle });
      this.ctx.logger.info(`subscribed to topic ${sub.topic} on pubsub ${entry.name} (${sub.type.toLowerCase()}, ${sub.rules.map((r) => r.path).join(', ')})`);
    } catch (err) {
      const wait = Math.min(RESUBSCRIBE_MAX_MS, 500 * 2 ** attempt);
      this.ctx.logger.error(`${delivery.label()}: subscribe failed, retrying in ${wait}ms: ${(err as Error).message}`);
      const t = setTimeout(() => {
        this.timers.delete(t);
        void this.subscribe(delivery, attempt + 1);
      }, wait);
      this.timers.add(t);
    }
  }

  /** GET /dapr/subscribe; 404 means none, other failures are logged and mean none. */
  private async discover(): Promise<Subscription[]> {
    const app = this.ctx.app!;
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await app.call({
          method: 'GET',
          path: '/dapr/subscribe',
          headers: { 'dapr-app-id': this.ctx.appId, 'content-type': 'application/json' },
          headersTimeout: 10_000,
        });
        const text = await res.body.text();
        if (res.statusCode === 404) {
          this.ctx.logger.debug('the app has no programmatic subscriptions (GET /dapr/subscribe answered 404)');
          return [];
        }
        if (res.statusCode !== 200) {
          this.ctx.logger.error(`GET /dapr/subscribe answered ${res.statusCode}; no programmatic subscriptions loaded`);
          return [];
        }
        if (text.trim() === '') return [];
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch (err) {
          this.ctx.logger.error(`GET /dapr/subscribe answered invalid JSON; no programmatic subscriptions loaded: ${(err as Error).message}`);
          return [];
        }
        if (!Array.isArray(body)) {
          this.ctx.logger.error('GET /dapr/subscribe did not answer a JSON array; no programmatic subscriptions loaded');
          return [];
        }
        return fromAppAnswer(body, (err) => this.ctx.logger.error(`${err.message}; this subscription is not loaded`));
      } catch (err) {
        if (attempt >= 4 || this.closed) {
          this.ctx.logger.error(`GET /dapr/subscribe failed; no programmatic subscriptions loaded: ${(err as Error).message}`);
          return [];
        }
        await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    const all = this.active.splice(0);
    await Promise.all(
      all.map(async (a) => {
        a.delivery.close();
        try {
          await a.handle.close();
        } catch (err) {
          this.ctx.logger.warn(`${a.delivery.label()}: unsubscribe failed: ${(err as Error).message}`);
        }
      }),
    );
  }
}
