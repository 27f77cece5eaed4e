// Publishing: component lookup and Dapr's errors, topic scopes, CloudEvent wrapping, the
// component-outbound policy, and bulk publish with per-entry failures.
import type { LoadedComponent } from '../block.js';
import { DaprError } from '../errors.js';
import type { CallPolicy, PolicyProvider } from '../policy.js';
import type { Span, Telemetry } from '../telemetry.js';
import { buildEnvelope, CLOUDEVENT_CONTENT_TYPE, isCloudEventContentType, mediaType, type TraceContext } from './cloudevent.js';
import { TopicNotFoundError, type BulkPublishEntry, type BulkPublishFailure, type PubSub } from './component.js';
import { isTopicAllowed, readScopes, type TopicScopes } from './scopes.js';

/** A loaded pub/sub component as the block uses it. */
export class PubSubEntry {
  readonly broker: PubSub;
  readonly scopes: TopicScopes;
  /** The broker enforces message TTL itself (feature MESSAGE_TTL): no `expiration` is written. */
  readonly hasNativeTtl: boolean;

  constructor(
    readonly name: string,
    loaded: LoadedComponent,
    appId: string,
    readonly outbound: CallPolicy,
  ) {
    this.broker = loaded.instance as PubSub;
    this.scopes = readScopes(loaded.metadata, appId);
    this.hasNativeTtl = (this.broker.features ?? []).includes('MESSAGE_TTL');
  }

  /** Publishes bytes through the outbound policy; broker failures become Dapr's errors. */
  async send(topic: string, data: Buffer, contentType: string | undefined, metadata: Record<string, string>): Promise<void> {
    try {
      await this.outbound.run(() => this.broker.publish({ topic, data, ...(contentType ? { contentType } : {}), metadata }));
    } catch (err) {
      throw this.publishError(topic, err);
    }
  }

  /**
   * Publishes a batch; returns the entries that failed, each with Dapr's error. With a broker's
   * native bulk publish, one policy run covers the batch and a retry sends only the entries that
   * failed (none is published twice by the sidecar); otherwise every entry is its own send.
   */
  async sendBulk(topic: string, entries: BulkPublishEntry[]): Promise<FailedEntry[]> {
    const bulk = this.broker.bulkPublish;
    if (!bulk) {
      const failed: FailedEntry[] = [];
      await Promise.all(
        entries.map(async (e) => {
          try {
            await this.send(topic, e.data, e.contentType, e.metadata);
          } catch (err) {
            failed.push({ entryId: e.entryId, error: (err as Error).message });
          }
        }),
      );
      return failed;
    }
    let remaining = entries;
    let failures: BulkPublishFailure[] = [];
    try {
      await this.outbound.run(async () => {
        failures = await bulk.call(this.broker, { topic, entries: remaining });
        if (failures.length === 0) return;
        const failedIds = new Set(failures.map((f) => f.entryId));
        remaining = remaining.filter((e) => failedIds.has(e.entryId));
        throw failures[0]!.error;
      });
      return [];
    } catch (err) {
      // The policy gave up (or had nothing to retry with): the last attempt's failures stand; an
      // error of the policy itself (a timeout, an open breaker) fails every entry still unsent.
      const byId = new Map(failures.map((f) => [f.entryId, f.error]));
      return remaining.map((e) => ({ entryId: e.entryId, error: this.publishError(topic, byId.get(e.entryId) ?? err).message }));
    }
  }

  private publishError(topic: string, err: unknown): DaprError {
    if (err instanceof DaprError) return err;
    if (err instanceof TopicNotFoundError) return new DaprError('pubsubPublishNotFound', `pubsub ${this.name} or topic ${topic} is not found: ${err.message}`, { cause: err });
    return new DaprError('pubsubPublish', `error when publish to topic ${topic} in pubsub ${this.name}: ${(err as Error).message}`, { cause: err });
  }
}

export interface PublishInput {
  pubsubName: string;
  topic: string;
  body: Buffer;
  contentType: string | undefined;
  metadata: Record<string, string>;
  trace: TraceContext;
}

export interface BulkEntryInput {
  entryId: string;
  event: unknown;
  contentType: string;
  metadata: Record<string, string>;
}

/** A bulk entry ready to publish: its event as bytes. */
export interface BulkEntry {
  entryId: string;
  data: Buffer;
  contentType: string;
  metadata: Record<string, string>;
}

export interface FailedEntry {
  entryId: string;
  error: string;
}

/** Go's strconv.ParseBool, which Dapr uses for `metadata.rawPayload`. */
export function parseRawPayload(md: Readonly<Record<string, string>>): boolean {
  let v: string | undefined;
  for (const k in md) if (k.toLowerCase() === 'rawpayload') v = md[k];
  if (v === undefined || v === '') return false;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw new DaprError('pubsubRequestMetadata', `failed deserializing metadata. Parsing rawPayload: strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`);
}

export class PubSubService {
  constructor(
    readonly appId: string,
    private readonly entries: ReadonlyMap<string, PubSubEntry>,
  ) {}

  static fromComponents(appId: string, loaded: ReadonlyMap<string, LoadedComponent>, policies: PolicyProvider): PubSubService {
    const entries = new Map<string, PubSubEntry>();
    for (const [name, c] of loaded) entries.set(name, new PubSubEntry(name, c, appId, policies.componentOutbound(name)));
    return new PubSubService(appId, entries);
  }

  get names(): string[] {
    return [...this.entries.keys()];
  }

  find(name: string): PubSubEntry | undefined {
    return this.entries.get(name);
  }

  /**
   * Dapr's checks, in Dapr's order, before anything is read from the body. `req` gives the
   * request metadata Dapr puts into the empty-topic error's ErrorInfo.
   */
  resolve(pubsubName: string, topic: string, req?: { queryMetadata(): Record<string, string> }): PubSubEntry {
    if (this.entries.size === 0) throw new DaprError('pubsubNotConfigured', 'pubsub is not configured');
    if (!pubsubName) throw new DaprError('pubsubEmpty', 'pubsub name is empty');
    const entry = this.entries.get(pubsubName);
    if (!entry) throw new DaprError('pubsubNotFound', `pubsub ${pubsubName} is not found`, { metadata: { appID: this.appId } });
    if (!topic) throw new DaprError('pubsubTopicEmpty', `topic is empty in pubsub ${pubsubName}`, { metadata: req?.queryMetadata() ?? {} });
    return entry;
  }

  private checkScope(entry: PubSubEntry, topic: string): void {
    if (!isTopicAllowed(entry.scopes, 'publish', topic)) {
      throw new DaprError('pubsubForbidden', `topic ${topic} is not allowed for app id ${this.appId}`, { metadata: { appID: this.appId, topic } });
    }
  }

  async publish(input: PublishInput): Promise<void> {
    const entry = this.resolve(input.pubsubName, input.topic);
    const raw = parseRawPayload(input.metadata);
    let data: Buffer;
    let contentType: string | undefined;
    if (raw) {
      data = input.body;
      contentType = input.contentType;
    } else {
      data = buildEnvelope({
        appId: this.appId,
        pubsubName: entry.name,
        topic: input.topic,
        body: input.body,
        contentType: input.contentType,
        trace: input.trace,
        metadata: input.metadata,
        brokerHasTtl: entry.hasNativeTtl,
      });
      contentType = CLOUDEVENT_CONTENT_TYPE;
    }
    this.checkScope(entry, input.topic);
    await entry.send(input.topic, data, contentType, input.metadata);
  }

  /**
   * Validates every entry first (400 on any), then publishes all; returns the failed ones.
   * `entries` come from the HTTP body (bulkEntriesFromJson) or the gRPC request, ids checked.
   */
  async bulkPublish(pubsubName: string, topic: string, entries: readonly BulkEntry[], metadata: Record<string, string>, trace: (i: number) => TraceContext): Promise<FailedEntry[]> {
    const entry = this.resolve(pubsubName, topic);
    const raw = parseRawPayload(metadata);
    this.checkScope(entry, topic);
    const prepared = entries.map((e, i): BulkPublishEntry => {
      const md = { ...metadata, ...e.metadata };
      const bytes = e.data;
      if (raw || parseRawPayload(e.metadata)) return { entryId: e.entryId, metadata: md, data: bytes, ...(e.contentType ? { contentType: e.contentType } : {}) };
      const data = buildEnvelope({
        appId: this.appId,
        pubsubName: entry.name,
        topic,
        body: bytes,
        contentType: e.contentType,
        trace: trace(i),
        metadata: md,
        brokerHasTtl: entry.hasNativeTtl,
      });
      return { entryId: e.entryId, metadata: md, data, contentType: CLOUDEVENT_CONTENT_TYPE };
    });
    return entry.sendBulk(topic, prepared);
  }
}

function field(obj: Record<string, unknown>, name: string): unknown {
  if (name in obj) return obj[name];
  const lower = name.toLowerCase();
  for (const k in obj) if (k.toLowerCase() === lower) return obj[k];
  return undefined;
}

/** The bulk publish body: a JSON array of {entryId, event, contentType, metadata}. */
export function decodeBulkEntries(body: unknown): BulkEntryInput[] {
  if (!Array.isArray(body)) throw new DaprError('pubsubUnmarshalEvents', 'error when unmarshaling the request for topic: the body must be a JSON array of entries');
  const seen = new Set<string>();
  return body.map((item, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new DaprError('pubsubUnmarshalEvents', `error when unmarshaling the request: entry ${i} is not an object`);
    }
    const obj = item as Record<string, unknown>;
    const entryId = checkEntryId(field(obj, 'entryId'), i, seen);
    const ct = field(obj, 'contentType');
    const md = field(obj, 'metadata');
    const metadata: Record<string, string> = {};
    if (typeof md === 'object' && md !== null) for (const [k, v] of Object.entries(md)) metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
    const e: BulkEntryInput = { entryId, event: field(obj, 'event'), contentType: typeof ct === 'string' ? ct : '', metadata };
    checkEntryContentType(e);
    return e;
  });
}

/** A bulk entry's id: present and unique in the request, as Dapr requires. */
export function checkEntryId(entryId: unknown, i: number, seen: Set<string>): string {
  if (typeof entryId !== 'string' || entryId === '' || seen.has(entryId)) {
    throw new DaprError('pubsubMarshalEvents', `error: entryId is duplicated or not present for entry ${i}`);
  }
  seen.add(entryId);
  return entryId;
}

/** The HTTP bulk body's entries with their bytes. */
export function bulkEntriesFromJson(body: unknown): BulkEntry[] {
  return decodeBulkEntries(body).map((e) => ({ entryId: e.entryId, data: entryBytes(e), contentType: e.contentType, metadata: e.metadata }));
}

/** One publish to the broker, recorded as dapr_component_pubsub_egress_* (and a child of `span`). */
export async function publishRecorded(service: PubSubService, telemetry: Telemetry, input: PublishInput, span: Span | undefined): Promise<void> {
  const started = performance.now();
  let ok = false;
  try {
    await service.publish(input);
    ok = true;
  } finally {
    telemetry.recordPublish(input.pubsubName, input.topic, ok, performance.now() - started, span);
  }
}

function mismatch(e: BulkEntryInput): DaprError {
  return new DaprError('pubsubMarshalEvents', `error when marshalling event for entryId ${e.entryId}: content type ${JSON.stringify(e.contentType)} does not match the event`);
}

function checkEntryContentType(e: BulkEntryInput): void {
  const mt = mediaType(e.contentType);
  if (mt === 'application/json' || isCloudEventContentType(mt)) return;
  if (typeof e.event !== 'string') throw mismatch(e);
  if (mt === 'application/octet-stream') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(e.event.replace(/\s/g, ''))) throw mismatch(e);
    return;
  }
  if (mt.startsWith('text/') || mt === 'application/xml') return;
  throw mismatch(e);
}

function entryBytes(e: BulkEntryInput): Buffer {
  const mt = mediaType(e.contentType);
  if (mt === 'application/octet-stream') return Buffer.from(e.event as string, 'base64');
  if (mt === 'application/json' || isCloudEventContentType(mt)) return Buffer.from(JSON.stringify(e.event ?? null));
  return Buffer.from(e.event as string);
}
