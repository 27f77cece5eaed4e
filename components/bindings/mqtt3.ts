// bindings.mqtt3 (alias bindings.mqtt; input and output). Output connects as
// `<consumerID>-producer` and publishes (QoS 1) to request metadata `topic` or the component's
// `topic`; input connects as `<consumerID>-consumer`, subscribes to `topic` with QoS 1 and
// sends the PUBACK only after the app took the message. When the app fails, the message is
// offered again every 5 s up to backOffMaxRetries times (negative: no limit); past that it
// stays unacknowledged, and the broker hands it over again when the session resumes
// (cleanSession false). Messages are handled one at a time.
import { connect, type IPublishPacket, type MqttClient } from 'mqtt';
import { meta, type ComponentContext } from '../../core/component.js';
import { bindingFeatures, type Binding, type BindingEventHandler, type BindingInvokeRequest } from '../../core/bindings/component.js';
import { isTruthy } from '../../resources/decode.js';
import { mqttBrokerUrl, mqttClientOptions } from '../common/mqtt-connection.js';

const NAME = 'bindings.mqtt3';
const RETRY_DELAY_MS = 5000;
const PUBLISH_TIMEOUT_MS = 20_000;

export async function createMqttBinding(ctx: ComponentContext): Promise<Binding> {
  const md = ctx.metadata;
  const url = meta(md, 'url')?.trim();
  if (!url) throw new Error(`${NAME}: metadata "url" is required`);
  const topic = meta(md, 'topic')?.trim();
  if (!topic) throw new Error(`${NAME}: metadata "topic" is required`);
  const consumerId = meta(md, 'consumerID')?.trim();
  if (!consumerId) throw new Error(`${NAME}: metadata "consumerID" is required`);
  const retain = isTruthy(meta(md, 'retain'));
  const cleanSession = isTruthy(meta(md, 'cleanSession'));
  const retriesRaw = meta(md, 'backOffMaxRetries')?.trim();
  const maxRetries = retriesRaw ? Number(retriesRaw) : 0;
  if (!Number.isInteger(maxRetries)) throw new Error(`${NAME}: backOffMaxRetries must be an integer`);
  const base = mqttClientOptions(md, cleanSession);
  let producer: MqttClient | undefined;
  let consumer: MqttClient | undefined;
  let closed = false;

  async function connected(clientId: string, setup?: (c: MqttClient) => void): Promise<MqttClient> {
    const c = connect(mqttBrokerUrl(url!), { ...base, clientId, manualConnect: true });
    setup?.(c);
    c.on('error', (err) => ctx.logger.warn(`${NAME}: ${clientId}: ${err.message}`));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('mqtt client timed out connecting')), 20_000);
      c.once('connect', () => {
        clearTimeout(t);
        resolve();
      });
      c.connect();
    }).catch((err: Error) => {
      c.end(true);
      throw new Error(`${NAME}: failed to connect to ${url}: ${err.message}`);
    });
    return c;
  }

  async function publish(req: BindingInvokeRequest): Promise<undefined> {
    producer ??= await connected(`${consumerId}-producer`);
    const to = req.metadata.topic || topic!;
    const keep = req.metadata.retain !== undefined ? isTruthy(req.metadata.retain) : retain;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`publish to ${to} not acknowledged within 20s`)), PUBLISH_TIMEOUT_MS);
      producer!.publish(to, req.data, { qos: 1, retain: keep }, (err) => {
        clearTimeout(t);
        if (err) reject(err);
        else resolve();
      });
    });
    return undefined;
  }

  async function read(handler: BindingEventHandler): Promise<void> {
    consumer = await connected(`${consumerId}-consumer`, (c) => {
      // Our handleMessage decides the PUBACK: calling `done` with an error skips it.
      c.handleMessage = (packet: IPublishPacket, done: (err?: Error) => void) => {
        void deliver(packet, handler).then(
          (ok) => done(ok ? undefined : new Error('not acknowledged')),
          (err: Error) => done(err),
        );
      };
    });
    await new Promise<void>((resolve, reject) => consumer!.subscribe(topic!, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
    // After a reconnect with a clean session the subscription must be made again.
    consumer.on('connect', () => {
      consumer!.subscribe(topic!, { qos: 1 }, (err) => {
        if (err) ctx.logger.error(`${NAME}: subscribing to ${topic} failed: ${err.message}`);
      });
    });
  }

  async function deliver(packet: IPublishPacket, handler: BindingEventHandler): Promise<boolean> {
    const data = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    for (let attempt = 0; ; attempt++) {
      if (closed) return false;
      try {
        await handler({ data, metadata: { topic: packet.topic } });
        if (attempt > 0) ctx.logger.info(`${NAME}: message on ${packet.topic} handled after ${attempt} retries`);
        return true;
      } catch (err) {
        if (maxRetries >= 0 && attempt >= maxRetries) {
          ctx.logger.error(`${NAME}: failed processing a message on ${packet.topic}: ${(err as Error).message}; left unacknowledged`);
          return false;
        }
        ctx.logger.warn(`${NAME}: error processing a message on ${packet.topic}, retrying in ${RETRY_DELAY_MS / 1000}s`);
        await new Promise((r) => setTimeout(r, RETRY_DELAY_MS));
      }
    }
  }

  return {
    features: bindingFeatures(meta(md, 'direction'), { input: true, output: true }),
    operations: () => ['create'],
    invoke: publish,
    read,
    async close() {
      closed = true;
      await Promise.all([producer, consumer].map((c) => (c ? new Promise<void>((r) => c.end(false, {}, () => r())) : undefined)));
    },
  };
}
