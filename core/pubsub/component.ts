// What the pub/sub building block needs from a broker. The block (core/pubsub) owns CloudEvents,
// routing, retries, dead letters and TTL checks; a broker only moves bytes with at-least-once
// semantics: a message is acknowledged when the handler resolves and redelivered when it
// rejects (or when the process dies before either).
import type { Component } from '../component.js';

export interface PublishRequest {
  topic: string;
  /** The bytes to put on the wire (a serialized CloudEvent, or the raw payload). */
  data: Buffer;
  contentType?: string;
  /** Request metadata (`metadata.*` query parameters), e.g. ttlInSeconds, rawPayload. */
  metadata: Record<string, string>;
}

export interface ReceivedMessage {
  topic: string;
  data: Buffer;
  contentType?: string;
  /** Broker-provided metadata (headers, message id...). */
  metadata: Record<string, string>;
}

/** Resolve = acknowledge; reject = the broker must redeliver later. */
export type MessageHandler = (msg: ReceivedMessage) => Promise<void>;

export interface SubscribeRequest {
  topic: string;
  /** Subscription metadata (from the Subscription resource or /dapr/subscribe). */
  metadata: Record<string, string>;
}

export interface SubscriptionHandle {
  close(): Promise<void>;
}

export interface PubSub extends Component {
  publish(req: PublishRequest): Promise<void>;
  /**
   * Starts delivering the topic's messages to `handler`. Instances that share the component's
   * consumerID (default: the app id) compete for messages; different consumerIDs each get all.
   */
  subscribe(req: SubscribeRequest, handler: MessageHandler): Promise<SubscriptionHandle>;
}

/** Thrown by a broker when the topic or resource does not exist (Dapr answers 400 on publish). */
export class TopicNotFoundError extends Error {
  override readonly name = 'TopicNotFoundError';
}
