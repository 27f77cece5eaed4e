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

/** One entry of a native bulk publish: a PublishRequest for the batch's topic, with its id. */
export interface BulkPublishEntry {
  entryId: string;
  data: Buffer;
  contentType?: string;
  /** The request's metadata merged with the entry's. */
  metadata: Record<string, string>;
}

export interface BulkPublishRequest {
  topic: string;
  entries: BulkPublishEntry[];
}

/** An entry the broker did not accept, with the reason. */
export interface BulkPublishFailure {
  entryId: string;
  error: unknown;
}

export interface PubSub extends Component {
  publish(req: PublishRequest): Promise<void>;
  /**
   * Optional: publishes a batch in fewer broker round trips than one publish per entry, and
   * reports every entry the broker did not accept (resolve = all accepted). Brokers without it
   * get one publish per entry, all in flight at once.
   */
  bulkPublish?(req: BulkPublishRequest): Promise<BulkPublishFailure[]>;
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
