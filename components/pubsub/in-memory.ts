// `pubsub.in-memory`: an event bus inside one sidecar process, as Dapr's in-memory component.
// Every subscriber gets every message (consumerID is not used); deliveries to one subscriber are
// serialized in publish order; a failed handler is logged and the message is gone. A topic
// ending in `*` subscribes to every topic that starts with the text before it.
import type { ComponentContext } from '../../core/component.js';
import type { MessageHandler, PublishRequest, PubSub, SubscribeRequest, SubscriptionHandle } from '../../core/pubsub/component.js';

interface Subscriber {
  topic: string;
  prefix: string | undefined;
  handler: MessageHandler;
  queue: Array<() => Promise<void>>;
  running: boolean;
  closed: boolean;
}

export class InMemoryPubSub implements PubSub {
  readonly features: readonly string[] = [];
  private readonly subscribers = new Set<Subscriber>();

  constructor(private readonly ctx: Pick<ComponentContext, 'logger'>) {}

  async publish(req: PublishRequest): Promise<void> {
    for (const s of this.subscribers) {
      if (s.prefix !== undefined ? !(req.topic.startsWith(s.prefix) && req.topic !== s.prefix) : s.topic !== req.topic) continue;
      const msg = { topic: req.topic, data: req.data, metadata: { ...req.metadata }, ...(req.contentType ? { contentType: req.contentType } : {}) };
      s.queue.push(() => s.handler(msg));
      if (!s.running) void this.drain(s);
    }
  }

  private async drain(s: Subscriber): Promise<void> {
    s.running = true;
    for (let job = s.queue.shift(); job && !s.closed; job = s.queue.shift()) {
      try {
        await job();
      } catch (err) {
        this.ctx.logger.error(`in-memory pubsub: handler for topic ${s.topic} failed; the message is dropped: ${(err as Error).message}`);
      }
    }
    s.running = false;
  }

  async subscribe(req: SubscribeRequest, handler: MessageHandler): Promise<SubscriptionHandle> {
    const s: Subscriber = {
      topic: req.topic,
      prefix: req.topic.endsWith('*') ? req.topic.slice(0, -1) : undefined,
      handler,
      queue: [],
      running: false,
      closed: false,
    };
    this.subscribers.add(s);
    return {
      close: async () => {
        s.closed = true;
        this.subscribers.delete(s);
      },
    };
  }

  async close(): Promise<void> {
    for (const s of this.subscribers) s.closed = true;
    this.subscribers.clear();
  }
}

export async function createInMemoryPubSub(ctx: ComponentContext): Promise<PubSub> {
  return new InMemoryPubSub(ctx);
}
