// bindings.rabbitmq (input and output) on one queue, `queueName`, declared at init with
// durable, deleteWhenUnused, exclusive, maxPriority and ttlInSeconds. Output `create` publishes
// to the default exchange with the queue as routing key (persistent, text/plain unless told,
// request metadata as AMQP headers; ttlInSeconds, priority, messageID, correlationID,
// contentType and type set the matching properties). Input consumes the queue one message at a
// time: ack after the app took it, nack with requeue when it failed, so the broker delivers it
// again; string headers become the event metadata (query-escaped, as Dapr does).
// A lost connection is re-established after reconnectWaitInSeconds.
import { connect, type Channel, type ChannelModel, type ConsumeMessage, type Options } from 'amqplib';
import { meta, type ComponentContext } from '../../core/component.js';
import { bindingFeatures, type Binding, type BindingEventHandler, type BindingInvokeRequest } from '../../core/bindings/component.js';
import { isTruthy } from '../../resources/decode.js';
import { parseMetadataDuration } from '../../resources/duration.js';

const NAME = 'bindings.rabbitmq';

export async function createRabbitMqBinding(ctx: ComponentContext): Promise<Binding> {
  const md = ctx.metadata;
  const url = meta(md, 'host')?.trim();
  if (!url) throw new Error(`${NAME}: metadata "host" is required`);
  const queue = meta(md, 'queueName')?.trim();
  if (!queue) throw new Error(`${NAME}: metadata "queueName" is required`);
  const int = (key: string): number | undefined => {
    const raw = meta(md, key)?.trim();
    if (!raw) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${NAME}: metadata "${key}" must be a non-negative integer`);
    return n;
  };
  const maxPriority = int('maxPriority');
  if (maxPriority !== undefined && (maxPriority < 1 || maxPriority > 255)) throw new Error(`${NAME}: maxPriority must be between 1 and 255`);
  const ttl = int('ttlInSeconds') ?? int('ttl');
  const prefetch = int('prefetchCount') ?? 0;
  const reconnectRaw = meta(md, 'reconnectWaitInSeconds', 'reconnectWait')?.trim();
  const reconnectMs = reconnectRaw ? (parseMetadataDuration(reconnectRaw) ?? 5000) : 5000;
  const queueOptions: Options.AssertQueue = {
    durable: isTruthy(meta(md, 'durable')),
    autoDelete: isTruthy(meta(md, 'deleteWhenUnused')),
    exclusive: isTruthy(meta(md, 'exclusive')),
    arguments: {
      ...(maxPriority !== undefined ? { 'x-max-priority': maxPriority } : {}),
      ...(ttl !== undefined ? { 'x-message-ttl': ttl * 1000 } : {}),
    },
  };

  let conn: ChannelModel | undefined;
  let channel: Channel | undefined;
  let handler: BindingEventHandler | undefined;
  let closed = false;
  let reconnecting: NodeJS.Timeout | undefined;

  async function open(): Promise<void> {
    const c = await connect(url!);
    try {
      const ch = await c.createChannel();
      await ch.assertQueue(queue!, queueOptions);
      if (handler) await consume(ch);
      c.on('error', (err: Error) => ctx.logger.warn(`${NAME}: connection error: ${err.message}`));
      c.on('close', () => {
        conn = undefined;
        channel = undefined;
        scheduleReconnect();
      });
      conn = c;
      channel = ch;
    } catch (err) {
      await c.close().catch(() => undefined);
      throw err;
    }
  }

  function scheduleReconnect(): void {
    if (closed || reconnecting) return;
    ctx.logger.warn(`${NAME}: connection lost; reconnecting in ${reconnectMs}ms`);
    reconnecting = setTimeout(() => {
      reconnecting = undefined;
      open().catch((err: Error) => {
        ctx.logger.warn(`${NAME}: reconnect failed: ${err.message}`);
        scheduleReconnect();
      });
    }, reconnectMs);
  }

  async function consume(ch: Channel): Promise<void> {
    if (prefetch > 0) await ch.prefetch(prefetch);
    // One message at a time, in queue order, as Dapr's binding handles them.
    let chain = Promise.resolve();
    await ch.consume(queue!, (msg: ConsumeMessage | null) => {
      if (!msg) return;
      chain = chain.then(() => handle(ch, msg));
    }, { noAck: false });
  }

  async function handle(ch: Channel, msg: ConsumeMessage): Promise<void> {
    // String headers only, key and value query-escaped so they travel as HTTP headers (as Dapr).
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(msg.properties.headers ?? {})) {
      if (typeof v === 'string') metadata[goQueryEscape(k)] = goQueryEscape(v);
      else if (Buffer.isBuffer(v)) metadata[goQueryEscape(k)] = goQueryEscape(v.toString('utf8'));
    }
    try {
      await handler!({ data: msg.content, metadata });
      ch.ack(msg);
    } catch (err) {
      ctx.logger.debug(`${NAME}: the app failed a message, requeueing it: ${(err as Error).message}`);
      try {
        ch.nack(msg, false, true);
      } catch {
        // The channel is gone: the broker requeues unacknowledged messages by itself.
      }
    }
  }

  async function publish(req: BindingInvokeRequest): Promise<undefined> {
    if (!channel) throw new Error('not connected to RabbitMQ');
    const m = req.metadata;
    const headers: Record<string, string> = { ...m };
    const options: Options.Publish = { persistent: true, contentType: m.contentType || 'text/plain', headers };
    if (m.ttlInSeconds) {
      const n = Number(m.ttlInSeconds);
      if (!Number.isInteger(n) || n < 0) throw new Error(`invalid ttlInSeconds: ${m.ttlInSeconds}`);
      options.expiration = String(n * 1000);
    }
    if (m.priority) {
      const n = Number(m.priority);
      if (!Number.isInteger(n) || n < 0 || n > 255) throw new Error(`invalid priority: ${m.priority}`);
      options.priority = n;
    }
    if (m.messageID) options.messageId = m.messageID;
    if (m.correlationID) options.correlationId = m.correlationID;
    if (m.type) options.type = m.type;
    if (!channel.sendToQueue(queue!, req.data, options)) await new Promise((r) => channel!.once('drain', r));
    return undefined;
  }

  try {
    await open();
  } catch (err) {
    throw new Error(`${NAME}: cannot connect to RabbitMQ: ${(err as Error).message}`, { cause: err });
  }

  return {
    features: bindingFeatures(meta(md, 'direction'), { input: true, output: true }),
    operations: () => ['create'],
    invoke: publish,
    async read(h) {
      handler = h;
      if (channel) await consume(channel);
    },
    async close() {
      closed = true;
      clearTimeout(reconnecting);
      await conn?.close().catch(() => undefined);
    },
  };
}

/** Go's url.QueryEscape: unreserved characters kept, space as '+', everything else %XX. */
export function goQueryEscape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
}
