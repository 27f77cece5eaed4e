// pubsub.redis: Redis Streams as Dapr lays them out. A topic is a stream; each entry carries a
// `data` field (the payload) and, when the publish had metadata, a `metadata` field (JSON).
// consumerID names the consumer group (and the consumer), so instances of one app share a
// group and different apps each read the whole stream. An entry is XACKed once the handler
// resolves; a rejected or abandoned entry stays pending and is reclaimed with XAUTOCLAIM once
// it has been idle for processingTimeout (checked every redeliverInterval).
import { Redis, type RedisOptions } from 'ioredis';
import { meta, type ComponentContext, type Logger } from '../../core/component.js';
import type { BulkPublishFailure, BulkPublishRequest, MessageHandler, PubSub, PublishRequest, SubscribeRequest, SubscriptionHandle } from '../../core/pubsub/component.js';
import { isTruthy } from '../../resources/decode.js';
import { parseGoDuration } from '../../resources/duration.js';
import { redisConnection, redisDuration } from '../common/redis-connection.js';
import { brokerDownError, consumerIdOf, intSetting, pause, Slots } from './broker-settings.js';
import { LiveSubscriptions } from './live-subscriptions.js';

const NAME = 'pubsub.redis';
/** Messages in flight per subscription unless `concurrency` says otherwise. */
const DEFAULT_CONCURRENCY = 100;

interface Settings {
  /** host:port, for messages. */
  where: string;
  consumerId: string;
  processingTimeout: number;
  redeliverInterval: number;
  queueDepth: number;
  concurrency: number;
  maxLenApprox: number | undefined;
  streamTTL: number | undefined;
  readTimeout: number;
}


export async function createRedisPubSub(ctx: ComponentContext): Promise<PubSub> {
  const md = ctx.metadata;
  if (isTruthy(meta(md, 'failover'))) throw new Error(`${NAME}: failover (Redis Sentinel) is not supported yet`);
  // Dapr's common Redis keys; each client below sets its own retry and queueing rules.
  const { options, where } = redisConnection(ctx, NAME);
  const maxLen = intSetting(md, 'maxLenApprox', 0, NAME);
  const ttlRaw = meta(md, 'streamTTL')?.trim();
  const settings: Settings = {
    where,
    consumerId: consumerIdOf(ctx),
    processingTimeout: redisDuration(md, 'processingTimeout', 60_000, NAME),
    redeliverInterval: redisDuration(md, 'redeliverInterval', 15_000, NAME),
    queueDepth: Math.max(1, intSetting(md, 'queueDepth', 100, NAME)),
    // Dapr's default is 10; 100 keeps a slow-ish app busy (order is not promised either way).
    concurrency: Math.max(1, intSetting(md, 'concurrency', DEFAULT_CONCURRENCY, NAME)),
    maxLenApprox: maxLen > 0 ? maxLen : undefined,
    streamTTL: ttlRaw ? (parseGoDuration(ttlRaw) ?? undefined) : undefined,
    readTimeout: Math.max(100, redisDuration(md, 'readTimeout', 3000, NAME)),
  };
  if (settings.maxLenApprox && settings.streamTTL) ctx.logger.warn(`${NAME}: both maxLenApprox and streamTTL are set; streamTTL wins`);

  // Commands fail at once while disconnected (no offline queue), so a publish never waits on
  // or silently loses a message it could not hand to Redis.
  // Auto-pipelining: the XADDs and XACKs issued in one turn of the event loop leave in one write,
  // instead of one socket write (a syscall) each.
  const client = new Redis({ ...options, enableOfflineQueue: false, maxRetriesPerRequest: 1, enableAutoPipelining: true });
  quietErrors(client, ctx.logger, where);
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw new Error(`${NAME}: cannot connect to Redis at ${where}: ${(err as Error).message}`, { cause: err });
  }
  return new RedisPubSub(client, options, settings, ctx.logger);
}

/** ioredis emits an 'error' per failed reconnect; log the first of each outage only. */
function quietErrors(client: Redis, logger: Logger, where: string): void {
  let down = false;
  client.on('error', (err: Error) => {
    if (!down) logger.warn(`${NAME}: connection to Redis at ${where} lost, reconnecting`, { error: err.message });
    down = true;
  });
  client.on('ready', () => {
    if (down) logger.info(`${NAME}: reconnected to Redis at ${where}`);
    down = false;
  });
}

class RedisPubSub implements PubSub {
  readonly features = ['BULK_PUBSUB'] as const;
  private readonly subs = new LiveSubscriptions<StreamSubscription>();

  constructor(
    private readonly client: Redis,
    private readonly options: RedisOptions,
    private readonly settings: Settings,
    private readonly logger: Logger,
  ) {}

  private xaddArgs(topic: string, data: Buffer, metadata: Record<string, string>): Array<string | Buffer | number> {
    const args: Array<string | Buffer | number> = [topic];
    if (this.settings.streamTTL) args.push('MINID', '~', `${Date.now() - this.settings.streamTTL}-0`);
    else if (this.settings.maxLenApprox) args.push('MAXLEN', '~', this.settings.maxLenApprox);
    args.push('*', 'data', data);
    for (const _ in metadata) {
      args.push('metadata', JSON.stringify(metadata));
      break;
    }
    return args;
  }

  async publish(req: PublishRequest): Promise<void> {
    const args = this.xaddArgs(req.topic, req.data, req.metadata);
    if (this.client.status !== 'ready') throw brokerDownError(NAME, this.settings.where, req.topic);
    try {
      // Named commands only: ioredis's auto-pipelining mangles the generic call()/callBuffer().
      await (this.client.xadd as (...a: Array<string | Buffer | number>) => Promise<unknown>).apply(this.client, args);
    } catch (err) {
      throw brokerDownError(NAME, this.settings.where, req.topic, err);
    }
  }

  /** One pipeline of XADDs (one write, one round trip); each entry's reply says whether it was added. */
  async bulkPublish(req: BulkPublishRequest): Promise<BulkPublishFailure[]> {
    const where = this.settings.where;
    if (this.client.status !== 'ready') return req.entries.map((e) => ({ entryId: e.entryId, error: brokerDownError(NAME, where, req.topic) }));
    const pipeline = this.client.pipeline();
    for (const e of req.entries) (pipeline.xadd as (...a: Array<string | Buffer | number>) => unknown).apply(pipeline, this.xaddArgs(req.topic, e.data, e.metadata));
    let replies: Array<[Error | null, unknown]> | null;
    try {
      replies = await pipeline.exec();
    } catch (err) {
      return req.entries.map((e) => ({ entryId: e.entryId, error: brokerDownError(NAME, where, req.topic, err) }));
    }
    const failed: BulkPublishFailure[] = [];
    req.entries.forEach((e, i) => {
      const reply = replies?.[i];
      if (!reply) failed.push({ entryId: e.entryId, error: brokerDownError(NAME, where, req.topic) });
      else if (reply[0]) failed.push({ entryId: e.entryId, error: new Error(`${NAME}: XADD to stream "${req.topic}" failed: ${reply[0].message}`, { cause: reply[0] }) });
    });
    return failed;
  }

  async subscribe(req: SubscribeRequest, handler: MessageHandler): Promise<SubscriptionHandle> {
    const reader = new Redis({ ...this.options, enableOfflineQueue: true, maxRetriesPerRequest: null });
    quietErrors(reader, this.logger, this.settings.where);
    await reader.connect();
    const sub = new StreamSubscription(req.topic, this.client, reader, this.settings, handler, this.logger);
    await sub.ensureGroup();
    sub.start();
    return this.subs.add(sub);
  }

  async close(): Promise<void> {
    await this.subs.closeAll();
    this.client.disconnect();
  }
}

type Entry = [id: Buffer, fields: Buffer[] | null];
/** ioredis has the command at runtime but not in its typings. */
type AutoClaim = { xautoclaimBuffer(...args: Array<string | number>): Promise<unknown> };

class StreamSubscription {
  private readonly stop = new AbortController();
  private readonly slots: Slots;
  /** Entry ids this instance is handling now, so a reclaim does not hand them out twice. */
  private readonly inFlight = new Set<string>();
  private readonly loops: Promise<void>[] = [];
  private readonly group: string;
  private acks: string[] = [];

  constructor(
    private readonly topic: string,
    private readonly client: Redis,
    private readonly reader: Redis,
    private readonly s: Settings,
    private readonly handler: MessageHandler,
    private readonly logger: Logger,
  ) {
    this.slots = new Slots(s.concurrency);
    this.group = s.consumerId;
  }

  async ensureGroup(): Promise<void> {
    try {
      // From 0: a new group receives the stream's retained history, as Dapr's does.
      await this.reader.xgroup('CREATE', this.topic, this.group, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  start(): void {
    this.loops.push(this.readLoop());
    if (this.s.processingTimeout > 0 && this.s.redeliverInterval > 0) this.loops.push(this.reclaimLoop());
  }

  private async readLoop(): Promise<void> {
    const signal = this.stop.signal;
    while (!signal.aborted) {
      let reply: Array<[Buffer, Entry[]]> | null;
      try {
        reply = (await this.reader.xreadgroupBuffer(
          'GROUP', this.group, this.s.consumerId, 'COUNT', this.s.queueDepth,
          'BLOCK', this.s.readTimeout, 'STREAMS', this.topic, '>',
        )) as Array<[Buffer, Entry[]]> | null;
      } catch (err) {
        if (signal.aborted) return;
        const msg = String((err as Error).message);
        if (msg.includes('NOGROUP')) {
          // The stream or group was deleted under us; recreate it as Dapr does.
          await this.ensureGroup().catch(() => undefined);
        } else {
          this.logger.debug(`${NAME}: read from stream "${this.topic}" failed, retrying`, { error: msg });
          await pause(500, signal);
        }
        continue;
      }
      if (!reply) continue;
      for (const [, entries] of reply) for (const e of entries) await this.dispatch(e);
    }
  }

  private async reclaimLoop(): Promise<void> {
    const signal = this.stop.signal;
    while (!signal.aborted) {
      await pause(this.s.redeliverInterval, signal);
      if (signal.aborted) return;
      try {
        let cursor = '0-0';
        do {
          const [next, claimed, deleted] = (await (this.client as unknown as AutoClaim).xautoclaimBuffer(
            this.topic, this.group, this.s.consumerId, this.s.processingTimeout, cursor, 'COUNT', this.s.queueDepth,
          )) as unknown as [Buffer, Entry[], Buffer[]?];
          cursor = next.toString();
          // Entries trimmed from the stream while pending can never be processed: ack them away.
          if (deleted && deleted.length > 0) await this.client.xack(this.topic, this.group, ...deleted);
          for (const e of claimed) {
            if (signal.aborted) return;
            if (e[1] === null) await this.client.xack(this.topic, this.group, e[0]);
            else await this.dispatch(e);
          }
        } while (cursor !== '0-0' && !signal.aborted);
      } catch (err) {
        if (!signal.aborted) this.logger.debug(`${NAME}: reclaim on stream "${this.topic}" failed`, { error: (err as Error).message });
      }
    }
  }

  private async dispatch([rawId, fields]: Entry): Promise<void> {
    const id = rawId.toString();
    if (this.inFlight.has(id) || fields === null) return;
    await this.slots.acquire();
    if (this.stop.signal.aborted) {
      this.slots.release();
      return;
    }
    this.inFlight.add(id);
    void this.handle(id, fields).finally(() => {
      this.inFlight.delete(id);
      this.slots.release();
    });
  }

  private async handle(id: string, fields: Buffer[]): Promise<void> {
    let data: Buffer = Buffer.alloc(0);
    const metadata: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i]!.toString();
      if (name === 'data') data = fields[i + 1]!;
      else if (name === 'metadata') {
        try {
          Object.assign(metadata, JSON.parse(fields[i + 1]!.toString()) as Record<string, string>);
        } catch {
          // Not ours to judge: a foreign producer's metadata field is simply not forwarded.
        }
      }
    }
    try {
      await this.handler({ topic: this.topic, data, metadata });
    } catch {
      // Left pending: the reclaim loop hands it out again after processingTimeout.
      return;
    }
    // Not awaited: the worker slot is free for the next entry while the XACK is on the wire.
    this.ack(id);
  }

  /**
   * Acknowledges after the handler succeeded. The ids acknowledged in one turn of the event loop
   * leave in one XACK (one command instead of one per message); an id lost to a crash before the
   * flush is only redelivered, never lost.
   */
  private ack(id: string): void {
    this.acks.push(id);
    if (this.acks.length === 1) setImmediate(this.flushAcks);
  }

  private readonly flushAcks = (): void => {
    const ids = this.acks;
    if (ids.length === 0) return;
    this.acks = [];
    this.client.xack(this.topic, this.group, ...ids).catch((err: Error) => {
      this.logger.warn(`${NAME}: XACK of ${ids.length} entries on "${this.topic}" failed; they will be redelivered`, { error: err.message });
    });
  };

  async close(): Promise<void> {
    this.stop.abort();
    this.reader.disconnect();
    await Promise.allSettled(this.loops);
    this.flushAcks();
  }
}
