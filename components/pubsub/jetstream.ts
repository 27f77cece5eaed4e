// pubsub.jetstream: NATS JetStream. The topic is the NATS subject; the stream is `streamName`
// or the stream that already covers the subject. Where Dapr requires the stream to exist,
// bulwark creates one (named `streamName`, or the topic with '.', '*', '>' replaced) on first
// use, so a Dapr app works against a bare server. Subscriptions are durable pull consumers:
// `durableName` if set, otherwise `<consumerID>-<topic>`, so instances sharing a consumerID
// compete for messages (what Dapr needs durableName + queueGroupName for) and different
// consumerIDs each get every message. Ack after the handler resolves; nak (after `ackWait` if
// set) when it rejects, so the server redelivers.
import { AckPolicy, connect, ConsumerEvents, DeliverPolicy, Events, headers, jwtAuthenticator, nanos, type ConsumerConfig, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JetStreamPublishOptions, type JsMsg, type NatsConnection } from 'nats';
import { meta, type ComponentContext, type Logger } from '../../core/component.js';
import type { BulkPublishEntry, BulkPublishFailure, BulkPublishRequest, MessageHandler, PubSub, PublishRequest, SubscribeRequest, SubscriptionHandle } from '../../core/pubsub/component.js';
import { isTruthy } from '../../resources/decode.js';
import { parseMetadataDuration } from '../../resources/duration.js';
import { brokerDownError, consumerIdOf, publishEach, intSetting, pause, Slots } from './broker-settings.js';
import { LiveSubscriptions } from './live-subscriptions.js';

const NAME = 'pubsub.jetstream';

const DELIVER: Record<string, DeliverPolicy> = {
  all: DeliverPolicy.All, last: DeliverPolicy.Last, new: DeliverPolicy.New,
  sequence: DeliverPolicy.StartSequence, time: DeliverPolicy.StartTime,
};

/** JetStream names may not hold '.', '*', '>', whitespace or path separators. */
const safeName = (s: string): string => s.replace(/[.*>\s/\\]/g, '_');

function duration(md: Readonly<Record<string, string>>, key: string): number | undefined {
  const raw = meta(md, key)?.trim();
  if (!raw) return undefined;
  const d = parseMetadataDuration(raw);
  if (d === undefined) throw new Error(`${NAME}: metadata "${key}" is not a duration: "${raw}"`);
  return d;
}

interface Settings {
  url: string;
  consumerId: string;
  streamName: string | undefined;
  durableName: string | undefined;
  ackPolicy: AckPolicy;
  nakDelay: number | undefined;
  parallel: boolean;
  consumer: Partial<ConsumerConfig>;
}

function decode(ctx: ComponentContext): Settings {
  const md = ctx.metadata;
  const url = meta(md, 'natsURL')?.trim();
  if (!url) throw new Error(`${NAME}: metadata "natsURL" is required`);
  const policyName = (meta(md, 'deliverPolicy')?.trim().toLowerCase() || 'all');
  const deliver = DELIVER[policyName];
  if (!deliver) throw new Error(`${NAME}: unknown deliverPolicy "${policyName}" (all, last, new, sequence, time)`);
  const ackName = meta(md, 'ackPolicy')?.trim().toLowerCase();
  const ackPolicy = ackName === 'none' ? AckPolicy.None : ackName === 'all' ? AckPolicy.All : AckPolicy.Explicit;
  const consumer: Partial<ConsumerConfig> = { deliver_policy: deliver, ack_policy: ackPolicy };
  const startSeq = intSetting(md, 'startSequence', 0, NAME);
  if (startSeq > 0) consumer.opt_start_seq = startSeq;
  const startTime = intSetting(md, 'startTime', 0, NAME);
  if (startTime > 0) consumer.opt_start_time = new Date(startTime * 1000).toISOString();
  const ackWait = duration(md, 'ackWait');
  if (ackWait) consumer.ack_wait = nanos(ackWait);
  const maxDeliver = intSetting(md, 'maxDeliver', 0, NAME);
  if (maxDeliver) consumer.max_deliver = maxDeliver;
  const backOff = meta(md, 'backOff')?.trim();
  if (backOff) consumer.backoff = backOff.split(',').map((p) => nanos(parseMetadataDuration(p) ?? 0));
  const maxAckPending = intSetting(md, 'maxAckPending', 0, NAME);
  if (maxAckPending) consumer.max_ack_pending = maxAckPending;
  const replicas = intSetting(md, 'replicas', 0, NAME);
  if (replicas) consumer.num_replicas = replicas;
  if (isTruthy(meta(md, 'memoryStorage'))) consumer.mem_storage = true;
  const mode = (meta(md, 'concurrencyMode', 'concurrency')?.trim().toLowerCase() || 'single');
  if (mode !== 'single' && mode !== 'parallel') throw new Error(`${NAME}: concurrencyMode must be "single" or "parallel", got "${mode}"`);
  return {
    url,
    consumerId: consumerIdOf(ctx),
    streamName: meta(md, 'streamName')?.trim() || undefined,
    durableName: meta(md, 'durableName')?.trim() || undefined,
    ackPolicy,
    nakDelay: ackWait,
    parallel: mode === 'parallel',
    consumer,
  };
}

export async function createJetStreamPubSub(ctx: ComponentContext): Promise<PubSub> {
  const s = decode(ctx);
  const md = ctx.metadata;
  const jwt = meta(md, 'jwt')?.trim();
  const seed = meta(md, 'seedKey')?.trim();
  if (!jwt !== !seed) throw new Error(`${NAME}: "jwt" and "seedKey" go together`);
  const cert = meta(md, 'tls_client_cert')?.trim();
  const key = meta(md, 'tls_client_key')?.trim();
  if (!cert !== !key) throw new Error(`${NAME}: "tls_client_cert" and "tls_client_key" go together`);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: s.url.split(','),
      name: meta(md, 'name') || 'dapr.io - pubsub.jetstream',
      token: meta(md, 'token') || undefined,
      authenticator: jwt && seed ? jwtAuthenticator(jwt, new TextEncoder().encode(seed)) : undefined,
      tls: cert && key ? { certFile: cert, keyFile: key } : undefined,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: 5000,
    });
  } catch (err) {
    throw new Error(`${NAME}: cannot connect to NATS at ${s.url}: ${(err as Error).message}`, { cause: err });
  }
  const jsOpts: { domain?: string; apiPrefix?: string } = {};
  const domain = meta(md, 'domain')?.trim();
  const apiPrefix = meta(md, 'apiPrefix')?.trim();
  if (domain) jsOpts.domain = domain;
  if (apiPrefix) jsOpts.apiPrefix = apiPrefix;
  const jsm = await nc.jetstreamManager(jsOpts);
  return new JetStreamPubSub(nc, nc.jetstream(jsOpts), jsm, s, ctx.logger);
}

class JetStreamPubSub implements PubSub {
  readonly features = ['BULK_PUBSUB'] as const;
  private connected = true;
  private readonly streams = new Map<string, Promise<string>>();
  private readonly subs = new LiveSubscriptions<JetStreamSubscription>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly s: Settings,
    private readonly logger: Logger,
  ) {
    void this.watchStatus();
  }

  private async watchStatus(): Promise<void> {
    for await (const st of this.nc.status()) {
      if (st.type === Events.Disconnect) {
        if (this.connected) this.logger.warn(`${NAME}: connection to NATS at ${this.s.url} lost, reconnecting`);
        this.connected = false;
      } else if (st.type === Events.Reconnect) {
        this.logger.info(`${NAME}: reconnected to NATS at ${this.s.url}`);
        this.connected = true;
      }
    }
  }

  /** The stream holding `topic`, created when none does (cached per topic). */
  private stream(topic: string): Promise<string> {
    let p = this.streams.get(topic);
    if (!p) {
      p = this.findOrCreateStream(topic);
      p.catch(() => this.streams.delete(topic));
      this.streams.set(topic, p);
    }
    return p;
  }

  private async findOrCreateStream(topic: string): Promise<string> {
    const wanted = this.s.streamName;
    if (wanted) {
      try {
        const info = await this.jsm.streams.info(wanted);
        const subjects = info.config.subjects ?? [];
        if (!subjects.includes(topic)) {
          const covered = await this.jsm.streams.find(topic).catch(() => undefined);
          if (covered !== wanted) await this.jsm.streams.update(wanted, { subjects: [...subjects, topic] });
        }
        return wanted;
      } catch (err) {
        if (!isNotFound(err)) throw err;
        await this.jsm.streams.add({ name: wanted, subjects: [topic] });
        return wanted;
      }
    }
    try {
      return await this.jsm.streams.find(topic);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const name = safeName(topic);
      this.logger.info(`${NAME}: no stream covers subject "${topic}"; creating stream "${name}"`);
      try {
        await this.jsm.streams.add({ name, subjects: [topic] });
      } catch (e) {
        // Another sidecar may have created it a moment ago.
        if (!/already in use|already exists/i.test((e as Error).message)) throw e;
      }
      return name;
    }
  }

  async publish(req: PublishRequest): Promise<void> {
    if (!this.connected || this.nc.isClosed()) throw brokerDownError(NAME, this.s.url, req.topic);
    const options = this.publishOptions(req);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.stream(req.topic);
        await this.js.publish(req.topic, req.data, options);
        return;
      } catch (err) {
        if (!this.connected || isConnectionError(err)) throw brokerDownError(NAME, this.s.url, req.topic, err);
        // "No responders" on a live connection: the stream we remembered is gone. Look again once.
        if (isNoResponders(err) && attempt === 1) {
          this.streams.delete(req.topic);
          continue;
        }
        throw new Error(`${NAME}: publish to "${req.topic}" failed: ${(err as Error).message}`, { cause: err });
      }
    }
  }

  /**
   * The stream is looked up once, then every entry is published asynchronously and the acks are
   * awaited together; an entry that failed on a live connection goes once more through `publish`
   * (which looks the stream up again when it has gone).
   */
  async bulkPublish(req: BulkPublishRequest): Promise<BulkPublishFailure[]> {
    if (!this.connected || this.nc.isClosed()) return req.entries.map((e) => ({ entryId: e.entryId, error: brokerDownError(NAME, this.s.url, req.topic) }));
    let failed: BulkPublishEntry[];
    try {
      await this.stream(req.topic);
      const acks = await Promise.allSettled(req.entries.map((e) => this.js.publish(req.topic, e.data, this.publishOptions(e))));
      failed = req.entries.filter((_, i) => acks[i]!.status === 'rejected');
    } catch {
      failed = req.entries;
    }
    return publishEach(this, req.topic, failed);
  }

  private publishOptions(req: { data: Buffer; contentType?: string }): Partial<JetStreamPublishOptions> {
    const h = req.contentType ? headers() : undefined;
    if (h && req.contentType) h.set('Content-Type', req.contentType);
    return { msgID: cloudEventId(req.data), headers: h };
  }

  async subscribe(req: SubscribeRequest, handler: MessageHandler): Promise<SubscriptionHandle> {
    const durable = safeName(this.s.durableName ?? `${this.s.consumerId}-${req.topic}`);
    const ensure = async (): Promise<string> => {
      const stream = await this.stream(req.topic);
      try {
        await this.jsm.consumers.info(stream, durable);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        try {
          await this.jsm.consumers.add(stream, { ...this.s.consumer, durable_name: durable, filter_subject: req.topic });
        } catch (e) {
          this.streams.delete(req.topic); // the stream itself may be gone: look it up again next time
          throw e;
        }
      }
      return stream;
    };
    await ensure();
    const sub = new JetStreamSubscription(this.js, ensure, durable, req.topic, this.s, handler, this.logger);
    await sub.start();
    return this.subs.add(sub);
  }

  async close(): Promise<void> {
    await this.subs.closeAll();
    await this.nc.close();
  }
}

/** Dapr uses the CloudEvent id as Nats-Msg-Id, so the server drops duplicate publishes. */
function cloudEventId(data: Buffer): string | undefined {
  if (data[0] !== 0x7b) return undefined; // '{'
  try {
    const id = (JSON.parse(data.toString()) as { id?: unknown }).id;
    return typeof id === 'string' && id ? id : undefined;
  } catch {
    return undefined;
  }
}

function isNotFound(err: unknown): boolean {
  return /not found|no stream matches/i.test(String((err as Error)?.message));
}

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'CONNECTION_CLOSED' || code === 'DISCONNECT' || code === 'TIMEOUT';
}

function isNoResponders(err: unknown): boolean {
  return (err as { code?: string })?.code === '503';
}

class JetStreamSubscription {
  private readonly stop = new AbortController();
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private readonly slots: Slots;

  constructor(
    private readonly js: JetStreamClient,
    /** Makes sure the stream and the durable consumer exist; resolves the stream name. */
    private readonly ensure: () => Promise<string>,
    private readonly durable: string,
    private readonly topic: string,
    private readonly s: Settings,
    private readonly handler: MessageHandler,
    private readonly logger: Logger,
  ) {
    this.slots = new Slots(s.parallel ? 64 : 1);
  }

  async start(): Promise<void> {
    const consumer = await this.js.consumers.get(await this.ensure(), this.durable);
    // Modest pulls keep competing instances taking turns instead of one hoarding a backlog.
    const messages = await consumer.consume({ max_messages: this.s.parallel ? 64 : 32 });
    this.messages = messages;
    void this.watch(messages);
    this.loop = this.run(messages);
  }

  /** The client keeps pulling from a deleted consumer; end the iterator so run() recreates it. */
  private async watch(messages: ConsumerMessages): Promise<void> {
    for await (const st of await messages.status()) {
      if (st.type === ConsumerEvents.ConsumerDeleted || st.type === ConsumerEvents.ConsumerNotFound || st.type === ConsumerEvents.StreamNotFound) {
        this.logger.warn(`${NAME}: consumer "${this.durable}" is gone (${st.type}); recreating it`);
        await messages.close().catch(() => undefined);
        return;
      }
    }
  }

  private async run(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const m of messages) {
        await this.slots.acquire();
        if (this.stop.signal.aborted) {
          this.slots.release();
          break;
        }
        const done = this.handle(m).finally(() => this.slots.release());
        if (!this.s.parallel) await done;
      }
    } catch (err) {
      if (!this.stop.signal.aborted) this.logger.warn(`${NAME}: consumer "${this.durable}" stopped`, { error: (err as Error).message });
    }
    // The iterator ended without close(): the consumer was deleted or the pull failed for good.
    while (!this.stop.signal.aborted) {
      await pause(1000, this.stop.signal);
      if (this.stop.signal.aborted) return;
      try {
        await this.start();
        return;
      } catch (err) {
        this.logger.debug(`${NAME}: resuming consumer "${this.durable}" failed`, { error: (err as Error).message });
      }
    }
  }

  private async handle(m: JsMsg): Promise<void> {
    const metadata: Record<string, string> = { Topic: m.subject };
    const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
    const contentType = m.headers?.get('Content-Type') || undefined;
    const acks = this.s.ackPolicy !== AckPolicy.None;
    let ok = true;
    try {
      await this.handler({ topic: this.topic, data, contentType, metadata });
    } catch {
      ok = false;
    }
    if (!acks) return;
    try {
      if (ok) m.ack();
      else m.nak(this.s.nakDelay);
    } catch (err) {
      // Connection gone: the server redelivers after ackWait.
      this.logger.debug(`${NAME}: could not settle a message on "${this.topic}"`, { error: (err as Error).message });
    }
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.messages?.close().catch(() => undefined);
    await this.loop;
  }
}
