// pubsub.mqtt3 (alias pubsub.mqtt): one MQTT 3.1.1 connection per component whose client id
// is consumerID, with a persistent session (cleanSession false) and QoS 1, so a subscriber
// that comes back receives what was published while it was away. A PUBACK is sent only after
// the handler resolves. MQTT redelivers an unacknowledged message only when the session
// resumes, so when the handler rejects, the component itself offers the message again (after
// a second) while still holding its PUBACK; if the process dies meanwhile, the broker
// redelivers on the next connection. Messages are handled one at a time, in order.
// Competing consumers, as in Dapr: give each instance its own consumerID and subscribe to
// `$share/<group>/<topic>` (MQTT shared subscriptions).
import { connect, type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { meta, type ComponentContext, type Logger } from '../../core/component.js';
import type { MessageHandler, PubSub, PublishRequest, SubscribeRequest, SubscriptionHandle } from '../../core/pubsub/component.js';
import { isTruthy } from '../../resources/decode.js';
import { mqttBrokerUrl, mqttClientOptions } from '../common/mqtt-connection.js';
import { brokerDownError, consumerIdOf, intSetting, pause } from './broker-settings.js';

const NAME = 'pubsub.mqtt3';
const PUBLISH_TIMEOUT = 20_000;
const REDELIVER_DELAY = 1000;
/**
 * A resumed session may hold messages for topics the app no longer subscribes to. Such a
 * message is parked (not blocking the others) until a subscription claims it; once the app
 * has started subscribing, one that no subscription claims within this time is dropped.
 */
const UNCLAIMED_WAIT = 15_000;
const noop = (): void => undefined;
/** Tells the client not to send the PUBACK itself; see MqttPubSub.enqueue. */
const ACK_DEFERRED = new Error('puback deferred until the handler resolves');

/** Does `topic` match the subscription `filter` (`+`, `#`, `$share/<group>/` prefix)? */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.startsWith('$share/') ? filter.split('/').slice(2).join('/') : filter;
  const fp = f.split('/');
  const tp = topic.split('/');
  for (let i = 0; i < fp.length; i++) {
    if (fp[i] === '#') return true;
    if (i >= tp.length) return false;
    if (fp[i] !== '+' && fp[i] !== tp[i]) return false;
  }
  return fp.length === tp.length;
}

interface Parked {
  packet: IPublishPacket;
  generation: number;
  done: (err?: Error) => void;
  timer?: NodeJS.Timeout;
}

interface Sub {
  filter: string;
  handler: MessageHandler;
}

export async function createMqttPubSub(ctx: ComponentContext): Promise<PubSub> {
  const md = ctx.metadata;
  const url = meta(md, 'url')?.trim();
  if (!url) throw new Error(`${NAME}: metadata "url" is required`);
  const qos = intSetting(md, 'qos', 1, NAME);
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new Error(`${NAME}: qos must be 0, 1 or 2, got ${qos}`);
  const cleanRaw = meta(md, 'cleanSession');
  const clean = cleanRaw === undefined || cleanRaw.trim() === '' ? false : isTruthy(cleanRaw);
  const options: IClientOptions = { ...mqttClientOptions(md, clean), clientId: consumerIdOf(ctx) };
  const ps = new MqttPubSub(mqttBrokerUrl(url), options, qos as 0 | 1 | 2, isTruthy(meta(md, 'retain')), ctx.logger);
  await ps.start();
  return ps;
}

class MqttPubSub implements PubSub {
  readonly features = [] as const;
  private readonly client: MqttClient;
  private readonly subs = new Set<Sub>();
  private readonly parked = new Set<Parked>();
  /** When the first subscription was made; parked messages wait at least until then. */
  private firstSubscribeAt: number | undefined;
  /** Counts ended connections: a message from an older connection must not be acked. */
  private generation = 0;
  /** Rejecters of publishes waiting for their PUBACK, failed when the connection drops. */
  private readonly inFlight = new Set<() => void>();
  private closed = false;
  private tail: Promise<void> = Promise.resolve();
  private readonly where: string;

  constructor(
    url: string,
    options: IClientOptions,
    private readonly qos: 0 | 1 | 2,
    private readonly retain: boolean,
    private readonly logger: Logger,
  ) {
    const u = new URL(url);
    this.where = `${u.protocol}//${u.host}`;
    this.client = connect(url, { ...options, manualConnect: true });
    this.client.handleMessage = (packet, done) => this.enqueue(packet, done);
    let down = false;
    this.client.on('connect', () => {
      if (down) logger.info(`${NAME}: reconnected to MQTT broker at ${this.where}`);
      down = false;
    });
    // Bumped when a connection ends (not when one starts: a resumed session's queued messages
    // can be handled before the 'connect' event fires).
    this.client.on('close', () => {
      this.generation++;
      for (const fail of this.inFlight) fail();
    });
    this.client.on('offline', () => {
      if (!down && !this.closed) logger.warn(`${NAME}: connection to MQTT broker at ${this.where} lost, reconnecting`);
      down = true;
    });
    this.client.on('error', (err) => logger.debug(`${NAME}: client error`, { error: err.message }));
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const fail = (err: Error): void => {
        this.client.off('connect', ok);
        this.closed = true;
        this.client.end(true);
        reject(new Error(`${NAME}: cannot connect to MQTT broker at ${this.where}: ${err.message}`, { cause: err }));
      };
      const ok = (): void => {
        this.client.off('error', fail);
        resolve();
      };
      this.client.once('connect', ok);
      this.client.once('error', fail);
      this.client.connect();
    });
  }

  /**
   * Called by the client for each PUBLISH, one at a time. Handling is chained so it stays in
   * order, but the client's packet loop is released at once: a handler that publishes through
   * this same connection must see its own PUBACK. For QoS 1 the PUBACK is therefore sent here,
   * after the handler, not by the client (which skips it when the callback gets an error).
   */
  private enqueue(packet: IPublishPacket, done: (err?: Error) => void): void {
    const generation = this.generation;
    if (packet.qos === 1) {
      const messageId = packet.messageId;
      this.chain(() => this.onMessage(packet, generation, () => this.sendPuback(messageId)));
      done(ACK_DEFERRED);
    } else {
      // QoS 0 needs no ack; QoS 2 finishes its PUBREL/PUBCOMP exchange through `done`.
      const settle = packet.qos === 0 ? noop : done;
      this.chain(() => this.onMessage(packet, generation, settle));
      if (packet.qos === 0) done();
    }
  }

  /** Appends to the ordered handling chain; a failure is logged and never stops the chain. */
  private chain(step: () => Promise<void>): void {
    this.tail = this.tail.then(step).catch((err: unknown) => {
      this.logger.warn(`${NAME}: handling a message failed`, { error: (err as Error)?.message });
    });
  }

  private sendPuback(messageId: number | undefined): void {
    (this.client as unknown as { _sendPacket(p: object): void })._sendPacket({ cmd: 'puback', messageId });
  }

  private async onMessage(packet: IPublishPacket, generation: number, done: (err?: Error) => void): Promise<void> {
    const handlers = this.matching(packet.topic);
    if (handlers.length === 0) return this.park({ packet, generation, done });
    const data = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : Buffer.from(packet.payload);
    const metadata = { retained: String(packet.retain ?? false) };
    const stale = (): boolean => this.closed || this.generation !== generation;
    for (;;) {
      if (stale()) return;
      const results = await Promise.allSettled(handlers.map((h) => h({ topic: packet.topic, data, metadata: { ...metadata } })));
      if (results.every((r) => r.status === 'fulfilled')) break;
      await pause(REDELIVER_DELAY);
    }
    // Never ack on a newer connection: the packet id would name a different message there.
    if (!stale()) done();
  }

  private park(p: Parked): void {
    this.parked.add(p);
    if (this.firstSubscribeAt !== undefined) this.armDrop(p);
  }

  private armDrop(p: Parked): void {
    p.timer = setTimeout(() => {
      if (!this.parked.delete(p)) return;
      if (this.closed || this.generation !== p.generation) return;
      this.logger.warn(`${NAME}: dropping a message on "${p.packet.topic}": no subscription for it`);
      this.chain(async () => p.done());
    }, Math.max(0, (this.firstSubscribeAt ?? Date.now()) + UNCLAIMED_WAIT - Date.now()));
  }

  /** Hands parked messages that `filter` now matches back to the ordered chain. */
  private unpark(filter: string): void {
    for (const p of this.parked) {
      if (!topicMatches(filter, p.packet.topic)) continue;
      this.parked.delete(p);
      clearTimeout(p.timer);
      this.chain(() => this.onMessage(p.packet, p.generation, p.done));
    }
  }

  private matching(topic: string): MessageHandler[] {
    const out: MessageHandler[] = [];
    for (const s of this.subs) if (topicMatches(s.filter, topic)) out.push(s.handler);
    return out;
  }

  async publish(req: PublishRequest): Promise<void> {
    if (!this.client.connected) throw brokerDownError(NAME, this.where, req.topic);
    const retain = req.metadata.retain !== undefined ? isTruthy(req.metadata.retain) : this.retain;
    let timer: NodeJS.Timeout | undefined;
    let lost: (() => void) | undefined;
    try {
      await Promise.race([
        this.client.publishAsync(req.topic, req.data, { qos: this.qos, retain }),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no acknowledgement within ${PUBLISH_TIMEOUT / 1000}s`)), PUBLISH_TIMEOUT);
          // The client would resend it after reconnecting, but the caller must hear now that
          // it is not confirmed (a later duplicate is within at-least-once).
          lost = () => reject(new Error('connection lost before the broker acknowledged it'));
          this.inFlight.add(lost);
        }),
      ]);
    } catch (err) {
      if (!this.client.connected) throw brokerDownError(NAME, this.where, req.topic, err);
      throw new Error(`${NAME}: publish to "${req.topic}" failed: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
      if (lost) this.inFlight.delete(lost);
    }
  }

  async subscribe(req: SubscribeRequest, handler: MessageHandler): Promise<SubscriptionHandle> {
    const sub: Sub = { filter: req.topic, handler };
    // Registered before SUBSCRIBE goes out: a resumed session may already be holding a queued
    // message for it, and its SUBACK waits behind that message.
    this.subs.add(sub);
    this.unpark(req.topic);
    if (this.firstSubscribeAt === undefined) {
      this.firstSubscribeAt = Date.now();
      for (const p of this.parked) this.armDrop(p);
    }
    try {
      await this.client.subscribeAsync(req.topic, { qos: this.qos });
    } catch (err) {
      this.subs.delete(sub);
      throw new Error(`${NAME}: cannot subscribe to "${req.topic}" at ${this.where}: ${(err as Error).message}`, { cause: err });
    }
    const unsubscribe = isTruthy(req.metadata.unsubscribeOnClose);
    return {
      close: async () => {
        this.subs.delete(sub);
        if (unsubscribe && this.client.connected) await this.client.unsubscribeAsync(req.topic).catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subs.clear();
    for (const p of this.parked) clearTimeout(p.timer);
    this.parked.clear();
    await this.client.endAsync(true);
  }
}
