// The transactional outbox (state metadata `outboxPublishPubsub` + `outboxPublishTopic`), as
// Dapr runs it: for each upsert of a transaction, a CloudEvent goes first to an internal topic
// (`<namespace><appId><topic>outbox` on `outboxPubsub`, default the publish pub/sub), and a marker
// key `outbox-<event id>` joins the transaction. The sidecar's own subscriber on that topic
// publishes the event to the real topic only once the marker exists, i.e. once the transaction
// committed, then deletes the marker. A failed internal publish fails the transaction untouched.
import { randomUUID } from 'node:crypto';
import type { BlockContext } from '../block.js';
import { isTruthy } from '../../resources/decode.js';
import { DaprError } from '../errors.js';
import { buildEnvelope, CLOUDEVENT_CONTENT_TYPE, type TraceContext } from '../pubsub/cloudevent.js';
import type { ReceivedMessage, SubscriptionHandle } from '../pubsub/component.js';
import { PubSubService } from '../pubsub/service.js';
import type { TransactionOperation } from './component.js';
import type { StoreHandle } from './store-handle.js';

const SCAN_DELAY_MS = 1000;
const SCAN_BACKOFF_MS = [500, 1500, 3000, 3000, 3000];

interface OutboxConfig {
  publishPubsub: string;
  publishTopic: string;
  outboxPubsub: string;
  discardWhenMissingState: boolean;
}

export class Outbox {
  private readonly handles: SubscriptionHandle[] = [];
  private closed = false;

  private constructor(
    private readonly ctx: Pick<BlockContext, 'appId' | 'namespace' | 'logger'>,
    private readonly store: StoreHandle,
    private readonly config: OutboxConfig,
    private readonly pubsub: PubSubService,
  ) {}

  /** The outbox of a store, or undefined when its metadata does not ask for one. */
  static for(ctx: Pick<BlockContext, 'appId' | 'namespace' | 'logger' | 'components' | 'policies'>, store: StoreHandle, md: Readonly<Record<string, string>>): Outbox | undefined {
    const publishPubsub = md.outboxPublishPubsub ?? '';
    const publishTopic = md.outboxPublishTopic ?? '';
    if (!publishPubsub || !publishTopic) return undefined;
    const config = {
      publishPubsub,
      publishTopic,
      outboxPubsub: md.outboxPubsub || publishPubsub,
      discardWhenMissingState: isTruthy(md.outboxDiscardWhenMissingState),
    };
    return new Outbox(ctx, store, config, PubSubService.fromComponents(ctx.appId, ctx.components.loaded('pubsub'), ctx.policies));
  }

  private get internalTopic(): string {
    return `${this.ctx.namespace ?? ''}${this.ctx.appId}${this.config.publishTopic}outbox`;
  }

  /**
   * Publishes one internal event per upsert. Returns the operations to commit (the given ones
   * minus `outbox.projection` upserts, whose values become the events of their keys) and one
   * marker per event to add. Throws ERR_PUBLISH_OUTBOX when an internal publish fails.
   */
  async prepare(ops: TransactionOperation[], trace: TraceContext): Promise<{ ops: TransactionOperation[]; markers: TransactionOperation[] }> {
    const projections = new Map<string, TransactionOperation & { operation: 'upsert' }>();
    const kept: TransactionOperation[] = [];
    for (const op of ops) {
      if (op.operation === 'upsert' && isTruthy(op.request.metadata['outbox.projection'])) projections.set(op.request.key, op);
      else kept.push(op);
    }
    const entry = this.pubsub.find(this.config.outboxPubsub);
    const markers: TransactionOperation[] = [];
    for (const op of kept) {
      if (op.operation !== 'upsert') continue;
      const source = projections.get(op.request.key) ?? op;
      const contentType = source.request.metadata.contentType;
      const value = source.request.value;
      let body: Buffer;
      if (typeof value !== 'string') body = Buffer.from(value);
      else if (contentType?.toLowerCase() === 'application/json') body = Buffer.from(value);
      else body = Buffer.from(plainText(value));
      const marker = `outbox-${randomUUID()}`;
      try {
        if (!entry) throw new Error(`pubsub ${this.config.outboxPubsub} is not loaded`);
        const data = buildEnvelope({
          appId: this.ctx.appId,
          pubsubName: this.config.outboxPubsub,
          topic: this.internalTopic,
          body,
          contentType,
          trace,
          metadata: { 'cloudevent.id': marker },
          brokerHasTtl: entry.hasNativeTtl,
        });
        await entry.send(this.internalTopic, data, CLOUDEVENT_CONTENT_TYPE, {});
      } catch (err) {
        throw new DaprError('publishOutbox', `error while publishing outbox message: ${(err as Error).message}`, { cause: err, metadata: { appID: this.ctx.appId } });
      }
      markers.push({ operation: 'upsert', request: { key: marker, value: '"0"', metadata: {}, options: {} } });
    }
    return { ops: kept, markers };
  }

  /** Subscribes to the internal topic; events are published once their transaction committed. */
  async start(): Promise<void> {
    const entry = this.pubsub.find(this.config.outboxPubsub);
    if (!entry) {
      this.ctx.logger.warn(`state store ${this.store.name}: outbox pubsub ${this.config.outboxPubsub} is not loaded; outbox messages are not published`);
      return;
    }
    this.handles.push(await entry.broker.subscribe({ topic: this.internalTopic, metadata: {} }, (msg) => this.relay(msg)));
  }

  private async relay(msg: ReceivedMessage): Promise<void> {
    const event = JSON.parse(msg.data.toString('utf8')) as Record<string, unknown>;
    const marker = String(event.id ?? '');
    await sleep(SCAN_DELAY_MS);
    let found = false;
    for (let attempt = 0; !found && !this.closed; attempt++) {
      try {
        found = (await this.store.get({ key: marker, metadata: {} })) !== undefined;
      } catch (err) {
        this.ctx.logger.debug(`outbox: reading marker ${marker}: ${(err as Error).message}`);
      }
      if (found || attempt >= SCAN_BACKOFF_MS.length) break;
      await sleep(SCAN_BACKOFF_MS[attempt]!);
    }
    if (!found) {
      const what = `outbox message for topic ${this.config.publishTopic} on pubsub ${this.config.publishPubsub}: outbox state not found`;
      if (this.config.discardWhenMissingState) {
        this.ctx.logger.error(`${what}, discarding message`);
        return;
      }
      // Rejected: the broker delivers it again later.
      throw new Error(`${what}, rejecting for later processing`);
    }
    event.topic = this.config.publishTopic;
    event.pubsubname = this.config.publishPubsub;
    const target = this.pubsub.find(this.config.publishPubsub);
    if (!target) throw new Error(`outbox: pubsub ${this.config.publishPubsub} is not loaded`);
    await target.send(this.config.publishTopic, Buffer.from(JSON.stringify(event)), CLOUDEVENT_CONTENT_TYPE, {});
    await this.store.delete({ key: marker, metadata: {}, options: {} });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.handles.splice(0).map((h) => h.close().catch(() => undefined)));
  }
}

/** A JSON string value as its text; anything else as its JSON text (Dapr prints Go values). */
function plainText(json: string): string {
  if (json.startsWith('"')) {
    try {
      return JSON.parse(json) as string;
    } catch {
      return json;
    }
  }
  return json;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
