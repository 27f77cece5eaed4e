// pubsub.rabbitmq: one exchange per topic (kind `exchangeKind`, fanout by default) and, per
// subscriber, a queue named `<consumerID>-<topic>` (or subscription metadata `queueName`)
// bound to it, as Dapr names them: instances sharing a consumerID share the queue, different
// apps each get a copy. Messages are acked after the handler resolves and nacked with requeue
// when it rejects. Publishes always wait for the broker's confirm, so a publish that returns
// has reached RabbitMQ; when the connection is down a publish fails at once and the component
// reconnects every `reconnectWaitSeconds`, restoring its subscriptions.
import { connect, type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Options } from 'amqplib';
import { meta, type ComponentContext, type Logger } from '../../core/component.js';
import type { BulkPublishEntry, BulkPublishFailure, BulkPublishRequest, MessageHandler, PubSub, PublishRequest, SubscribeRequest, SubscriptionHandle } from '../../core/pubsub/component.js';
import { isTruthy } from '../../resources/decode.js';
import { parseMetadataDuration } from '../../resources/duration.js';
import { brokerDownError, consumerIdOf, publishEach, intSetting, pause } from './broker-settings.js';
import { LiveSubscriptions } from './live-subscriptions.js';

const NAME = 'pubsub.rabbitmq';

interface Settings {
  url: string;
  /** The URL without credentials, for messages. */
  where: string;
  consumerId: string;
  durable: boolean;
  autoDelete: boolean;
  autoAck: boolean;
  persistent: boolean;
  prefetchCount: number;
  reconnectWait: number;
  maxLen: number;
  maxLenBytes: number;
  exchangeKind: string;
  enableDeadLetter: boolean;
  ttlSeconds: number;
  heartbeat: number;
  clientName: string | undefined;
  parallel: boolean;
}

function decode(ctx: ComponentContext): Settings {
  const md = ctx.metadata;
  let url = meta(md, 'connectionString')?.trim() || meta(md, 'host')?.trim() || '';
  if (!url) {
    const protocol = meta(md, 'protocol')?.trim() || 'amqp';
    const user = meta(md, 'username') ?? '';
    const pass = meta(md, 'password') ?? '';
    const auth = user ? `${encodeURIComponent(user)}:${encodeURIComponent(pass)}@` : '';
    url = `${protocol}://${auth}${meta(md, 'hostname')?.trim() || 'localhost'}`;
  }
  let where = url;
  try {
    const u = new URL(url);
    where = `${u.protocol}//${u.host}`;
  } catch {
    throw new Error(`${NAME}: connectionString is not a URL`);
  }
  const deliveryMode = intSetting(md, 'deliveryMode', 0, NAME);
  if (deliveryMode > 2 || deliveryMode < 0) throw new Error(`${NAME}: deliveryMode must be 0, 1 or 2, got ${deliveryMode}`);
  const kind = meta(md, 'exchangeKind')?.trim().toLowerCase() || 'fanout';
  if (!['fanout', 'topic', 'direct', 'headers'].includes(kind)) throw new Error(`${NAME}: exchangeKind "${kind}" is not fanout, topic, direct or headers`);
  const mode = meta(md, 'concurrencyMode')?.trim().toLowerCase() || 'parallel';
  if (mode !== 'single' && mode !== 'parallel') throw new Error(`${NAME}: concurrencyMode must be "single" or "parallel", got "${mode}"`);
  const flag = (key: string, fallback: boolean): boolean => {
    const v = meta(md, key);
    return v === undefined || v.trim() === '' ? fallback : isTruthy(v);
  };
  const seconds = (key: string, fallback: number): number => {
    const raw = meta(md, key)?.trim();
    if (!raw) return fallback;
    const d = parseMetadataDuration(raw);
    if (d === undefined) throw new Error(`${NAME}: metadata "${key}" is not a duration: "${raw}"`);
    return d;
  };
  return {
    url,
    where,
    consumerId: consumerIdOf(ctx),
    durable: flag('durable', true),
    autoDelete: flag('deletedWhenUnused', true),
    autoAck: flag('autoAck', false),
    persistent: deliveryMode === 2,
    prefetchCount: intSetting(md, 'prefetchCount', 0, NAME),
    reconnectWait: seconds('reconnectWaitSeconds', 3000),
    maxLen: intSetting(md, 'maxLen', 0, NAME),
    maxLenBytes: intSetting(md, 'maxLenBytes', 0, NAME),
    exchangeKind: kind,
    enableDeadLetter: flag('enableDeadLetter', false),
    ttlSeconds: intSetting(md, 'ttlInSeconds', 0, NAME),
    heartbeat: Math.round(seconds('heartBeat', 10_000) / 1000),
    clientName: meta(md, 'clientName')?.trim() || undefined,
    parallel: mode === 'parallel',
  };
}

export async function createRabbitMqPubSub(ctx: ComponentContext): Promise<PubSub> {
  const ps = new RabbitMqPubSub(decode(ctx), ctx.logger);
  try {
    await ps.connect();
  } catch (err) {
    throw new Error(`${NAME}: cannot connect to RabbitMQ at ${ps.where}: ${(err as Error).message}`, { cause: err });
  }
  return ps;
}

class RabbitMqPubSub implements PubSub {
  readonly features = ['BULK_PUBSUB'] as const;
  private conn: ChannelModel | undefined;
  private pubChannel: Promise<ConfirmChannel> | undefined;
  private readonly declared = new Set<string>();
  private readonly subs = new LiveSubscriptions<QueueSubscription>();
  private closing = false;
  private reconnecting = false;

  constructor(private readonly s: Settings, private readonly logger: Logger) {}

  get where(): string {
    return this.s.where;
  }

  async connect(): Promise<void> {
    const url = new URL(this.s.url);
    if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', String(this.s.heartbeat));
    const conn = await connect(url.toString(), {
      timeout: 5000,
      clientProperties: this.s.clientName ? { connection_name: this.s.clientName } : undefined,
    });
    conn.on('error', (err: Error) => this.logger.debug(`${NAME}: connection error`, { error: err.message }));
    conn.on('close', () => {
      if (this.conn !== conn) return;
      this.conn = undefined;
      this.pubChannel = undefined;
      this.declared.clear();
      if (!this.closing) {
        this.logger.warn(`${NAME}: connection to RabbitMQ at ${this.s.where} lost, reconnecting`);
        void this.reconnect();
      }
    });
    this.conn = conn;
    for (const sub of this.subs) {
      // One queue refusing its declaration (say, changed arguments) must not keep the others down.
      await sub.attach(conn).catch((err: Error) => this.logger.warn(`${NAME}: could not resubscribe queue "${sub.queue}"`, { error: err.message }));
    }
  }

  private async reconnect(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    try {
      while (!this.closing && !this.conn) {
        await pause(this.s.reconnectWait);
        if (this.closing) return;
        try {
          await this.connect();
          this.logger.info(`${NAME}: reconnected to RabbitMQ at ${this.s.where}`);
        } catch (err) {
          this.logger.debug(`${NAME}: reconnect failed`, { error: (err as Error).message });
          const c = this.conn as ChannelModel | undefined;
          this.conn = undefined;
          await c?.close().catch(() => undefined);
        }
      }
    } finally {
      this.reconnecting = false;
    }
  }

  private channel(conn: ChannelModel): Promise<ConfirmChannel> {
    if (!this.pubChannel) {
      const p = conn.createConfirmChannel().then((ch) => {
        ch.on('error', (err: Error) => this.logger.debug(`${NAME}: publish channel error`, { error: err.message }));
        ch.on('close', () => {
          if (this.pubChannel === p) {
            this.pubChannel = undefined;
            this.declared.clear();
          }
        });
        return ch;
      });
      p.catch(() => {
        if (this.pubChannel === p) this.pubChannel = undefined;
      });
      this.pubChannel = p;
    }
    return this.pubChannel;
  }

  async publish(req: PublishRequest): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const conn = this.conn;
      if (!conn) throw brokerDownError(NAME, this.s.where, req.topic);
      try {
        const ch = await this.channel(conn);
        if (!this.declared.has(req.topic)) {
          await ch.assertExchange(req.topic, this.s.exchangeKind, { durable: this.s.durable, autoDelete: this.s.autoDelete });
          this.declared.add(req.topic);
        }
        await new Promise<void>((resolve, reject) => {
          ch.publish(req.topic, req.metadata.routingKey ?? '', req.data, this.publishOptions(req), (err: unknown) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve()));
        });
        return;
      } catch (err) {
        // An auto-deleted exchange closes the channel (404): open a new one, declare it again.
        if (attempt === 1 && this.conn) {
          const old = this.pubChannel;
          this.pubChannel = undefined;
          this.declared.clear();
          void old?.then((ch) => ch.close()).catch(() => undefined);
          continue;
        }
        if (!this.conn) throw brokerDownError(NAME, this.s.where, req.topic, err);
        throw new Error(`${NAME}: publish to "${req.topic}" failed: ${(err as Error).message}`, { cause: err });
      }
    }
  }

  /**
   * Every entry published on the confirm channel at once, then the broker's confirms awaited
   * together (one per entry, so each failure is reported on its own). Entries that failed while
   * the connection stayed up go once more through `publish`, which reopens the channel and
   * declares the exchange again (an auto-deleted exchange closes the channel under a batch).
   */
  async bulkPublish(req: BulkPublishRequest): Promise<BulkPublishFailure[]> {
    const conn = this.conn;
    if (!conn) return req.entries.map((e) => ({ entryId: e.entryId, error: brokerDownError(NAME, this.s.where, req.topic) }));
    let failed: BulkPublishEntry[];
    try {
      const ch = await this.channel(conn);
      if (!this.declared.has(req.topic)) {
        await ch.assertExchange(req.topic, this.s.exchangeKind, { durable: this.s.durable, autoDelete: this.s.autoDelete });
        this.declared.add(req.topic);
      }
      const confirms = req.entries.map(
        (e) =>
          new Promise<BulkPublishEntry | undefined>((resolve) => {
            try {
              ch.publish(req.topic, e.metadata.routingKey ?? '', e.data, this.publishOptions({ topic: req.topic, ...e }), (err: unknown) => resolve(err ? e : undefined));
            } catch {
              resolve(e);
            }
          }),
      );
      failed = (await Promise.all(confirms)).filter((e): e is BulkPublishEntry => e !== undefined);
    } catch {
      failed = req.entries;
    }
    return publishEach(this, req.topic, failed);
  }

  private publishOptions(req: PublishRequest): Options.Publish {
    const md = req.metadata;
    const o: Options.Publish = { contentType: md.contentType ?? req.contentType };
    if (this.s.persistent) o.deliveryMode = 2;
    const ttl = Number(md.ttlInSeconds ?? this.s.ttlSeconds);
    if (ttl > 0) o.expiration = String(ttl * 1000);
    if (md.priority !== undefined && /^\d+$/.test(md.priority)) o.priority = Number(md.priority);
    if (md.messageID) o.messageId = md.messageID;
    if (md.correlationID) o.correlationId = md.correlationID;
    if (md.type) o.type = md.type;
    return o;
  }

  async subscribe(req: SubscribeRequest, handler: MessageHandler): Promise<SubscriptionHandle> {
    const conn = this.conn;
    if (!conn) throw new Error(`${NAME}: cannot subscribe to "${req.topic}": RabbitMQ at ${this.s.where} is unreachable`);
    const sub = new QueueSubscription(req, this.s, handler, this.logger, () => this.conn);
    await sub.attach(conn);
    return this.subs.add(sub);
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.subs.closeAll();
    const c = this.conn;
    this.conn = undefined;
    await c?.close().catch(() => undefined);
  }
}

class QueueSubscription {
  private channel: Channel | undefined;
  private consumerTag: string | undefined;
  private stopped = false;
  private tail: Promise<void> = Promise.resolve();
  readonly queue: string;

  constructor(
    private readonly req: SubscribeRequest,
    private readonly s: Settings,
    private readonly handler: MessageHandler,
    private readonly logger: Logger,
    private readonly currentConnection: () => ChannelModel | undefined,
  ) {
    this.queue = req.metadata.queueName || `${s.consumerId}-${req.topic}`;
  }

  /** Declares exchange, queue and binding on a fresh channel of `conn` and starts consuming. */
  async attach(conn: ChannelModel): Promise<void> {
    if (this.stopped) return;
    const ch = await conn.createChannel();
    ch.on('error', (err: Error) => this.logger.warn(`${NAME}: channel of queue "${this.queue}" failed`, { error: err.message }));
    ch.on('close', () => {
      if (this.channel !== ch) return;
      this.channel = undefined;
      // A channel-level failure on a live connection: open a new channel after a pause. (When
      // the connection itself went down, its reconnect attaches every subscription again.)
      void pause(this.s.reconnectWait).then(() => {
        if (this.stopped || this.channel || this.currentConnection() !== conn) return;
        return this.attach(conn).catch((err: Error) => this.logger.warn(`${NAME}: could not resubscribe queue "${this.queue}"`, { error: err.message }));
      });
    });
    const { s, req } = this;
    const md = req.metadata;
    await ch.assertExchange(req.topic, s.exchangeKind, { durable: s.durable, autoDelete: s.autoDelete });
    const args: Record<string, unknown> = {};
    const maxLen = Number(md.maxLen ?? s.maxLen);
    const maxLenBytes = Number(md.maxLenBytes ?? s.maxLenBytes);
    if (maxLen > 0) args['x-max-length'] = maxLen;
    if (maxLenBytes > 0) args['x-max-length-bytes'] = maxLenBytes;
    if (s.enableDeadLetter) {
      const dlx = `dlx-${this.queue}`;
      const dlq = `dlq-${this.queue}`;
      await ch.assertExchange(dlx, 'fanout', { durable: s.durable, autoDelete: s.autoDelete });
      await ch.assertQueue(dlq, { durable: s.durable, autoDelete: s.autoDelete, arguments: { ...args } });
      await ch.bindQueue(dlq, dlx, '');
      args['x-dead-letter-exchange'] = dlx;
    }
    if (md.maxPriority && /^\d+$/.test(md.maxPriority)) args['x-max-priority'] = Number(md.maxPriority);
    if (md.queueType) args['x-queue-type'] = md.queueType;
    if (isTruthy(md.singleActiveConsumer)) args['x-single-active-consumer'] = true;
    await ch.assertQueue(this.queue, { durable: s.durable, autoDelete: s.autoDelete, arguments: args });
    for (const key of (md.routingKey ?? '').split(',')) await ch.bindQueue(this.queue, req.topic, key);
    if (s.prefetchCount > 0) await ch.prefetch(s.prefetchCount);
    const ok = await ch.consume(this.queue, (msg) => this.onMessage(ch, msg), { noAck: s.autoAck });
    this.channel = ch;
    this.consumerTag = ok.consumerTag;
  }

  private async reattach(old: Channel): Promise<void> {
    await pause(this.s.reconnectWait);
    const conn = this.currentConnection();
    if (this.stopped || !conn || this.channel !== old) return;
    await old.close().catch(() => undefined);
    await this.attach(conn).catch((err: Error) => this.logger.warn(`${NAME}: could not resubscribe queue "${this.queue}"`, { error: err.message }));
  }

  private onMessage(ch: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // The broker cancelled the consumer (queue deleted): declare it again shortly.
      if (!this.stopped) void this.reattach(ch);
      return;
    }
    if (this.s.parallel) void this.handle(ch, msg);
    else this.tail = this.tail.then(() => this.handle(ch, msg));
  }

  private async handle(ch: Channel, msg: ConsumeMessage): Promise<void> {
    const metadata: Record<string, string> = {};
    if (msg.properties.messageId) metadata.messageID = String(msg.properties.messageId);
    if (msg.properties.correlationId) metadata.correlationID = String(msg.properties.correlationId);
    let ok = true;
    try {
      await this.handler({ topic: this.req.topic, data: msg.content, contentType: msg.properties.contentType as string | undefined, metadata });
    } catch {
      ok = false;
    }
    if (this.s.autoAck) return;
    try {
      if (ok) ch.ack(msg);
      else ch.nack(msg, false, true);
    } catch (err) {
      // The channel is gone; the broker redelivers everything it had not seen acked.
      this.logger.debug(`${NAME}: could not settle a message on "${this.queue}"`, { error: (err as Error).message });
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    const ch = this.channel;
    this.channel = undefined;
    if (!ch) return;
    try {
      if (this.consumerTag) await ch.cancel(this.consumerTag);
      await ch.close();
    } catch {
      // Already closed with its connection.
    }
  }
}
