// The state building block: stores by name, key prefixing, request validation, and the mapping of
// store failures to Dapr's error codes. Handlers (routes.ts) only move bytes in and out.
import type { BlockContext } from '../block.js';
import { meta } from '../component.js';
import { DaprError } from '../errors.js';
import { isTruthy } from '../../resources/decode.js';
import {
  ETagError, StateFeature, type BulkGetItem, type Concurrency, type Consistency, type GetResponse, type QueryResponse,
  type StateOptions, type StateStore, type StateValue, type TransactionOperation,
} from './component.js';
import { encryptionFor, type StateEncryption } from './encryption.js';
import { KeyPrefixer, originalKey } from './keys.js';
import { Outbox } from './outbox.js';
import { parseStateQuery } from './query.js';
import { StoreHandle } from './store-handle.js';
import type { TraceContext } from '../pubsub/cloudevent.js';

const NO_TRACE: TraceContext = { traceparent: '', tracestate: '' };

interface StoreEntry {
  handle: StoreHandle;
  keys: KeyPrefixer;
  /** Set when the store has primaryEncryptionKey: values are encrypted before they reach it. */
  enc: StateEncryption | undefined;
  /** Set when the store has outboxPublishPubsub and outboxPublishTopic. */
  outbox: Outbox | undefined;
}

/** One item of a save request, as decoded from the body. */
export interface SaveItem {
  key: string;
  /** JSON text of the value ('null' when absent), or bytes from a gRPC caller. */
  value: StateValue;
  etag?: string | undefined;
  metadata: Record<string, string>;
  options: StateOptions;
}

export class StateService {
  private readonly stores = new Map<string, StoreEntry>();
  private readonly appId: string;
  /** The store that holds actor state (metadata `actorStateStore: true`), if any. */
  readonly actorStore: StoreHandle | undefined;

  constructor(ctx: Pick<BlockContext, 'appId' | 'namespace' | 'components' | 'resources' | 'policies' | 'telemetry' | 'logger'>) {
    this.appId = ctx.appId;
    let actorStore: StoreHandle | undefined;
    for (const [name, loaded] of ctx.components.loaded('state')) {
      const store = loaded.instance as StateStore;
      const handle = new StoreHandle(name, store, ctx.policies, ctx.telemetry);
      const keys = new KeyPrefixer(name, meta(loaded.metadata, 'keyPrefix'), ctx.appId, ctx.namespace);
      const enc = encryptionFor(loaded, ctx.resources.components.find((c) => c.name === name));
      const outbox = handle.supportsTransactions ? Outbox.for(ctx, handle, loaded.metadata) : undefined;
      this.stores.set(name, { handle, keys, enc, outbox });
      if (isTruthy(meta(loaded.metadata, 'actorStateStore'))) {
        if (actorStore) throw new Error(`detected duplicate actor state store: ${actorStore.name} and ${name}`);
        if (!handle.supportsETag || !handle.supportsTransactions) {
          throw new Error(`state store ${name} cannot hold actor state: it must support ETags and transactions`);
        }
        actorStore = handle;
      }
    }
    this.actorStore = actorStore;
  }

  /** Starts what runs in the background (the outboxes' internal subscriptions). */
  async start(): Promise<void> {
    for (const e of this.stores.values()) await e.outbox?.start();
  }

  async close(): Promise<void> {
    for (const e of this.stores.values()) await e.outbox?.close();
  }

  get storeNames(): string[] {
    return [...this.stores.keys()];
  }

  private entry(name: string): StoreEntry {
    const e = this.stores.get(name);
    if (e) return e;
    const metadata = this.appId ? { appID: this.appId } : undefined;
    if (this.stores.size === 0) throw new DaprError('stateStoreNotConfigured', `state store ${name} is not configured`, metadata ? { metadata } : {});
    throw new DaprError('stateStoreNotFound', `state store ${name} is not found`, metadata ? { metadata } : {});
  }

  /** Throws the not-configured / not-found errors; used before reading a body. */
  check(name: string): void {
    this.entry(name);
  }

  async get(storeName: string, key: string, metadata: Record<string, string>, consistency: string | null): Promise<GetResponse | undefined> {
    const { handle, keys, enc } = this.entry(storeName);
    const req = { key: keys.storeKey(key), metadata, consistency: (consistency || undefined) as Consistency | undefined };
    try {
      const r = await handle.get(req);
      if (r && enc) r.data = enc.decrypt(r.data);
      return r;
    } catch (err) {
      throw new DaprError('stateGet', `fail to get ${key} from state store ${storeName}: ${messageOf(err)}`, { cause: err });
    }
  }

  async bulkGet(storeName: string, userKeys: readonly string[], metadata: Record<string, string>, parallelism: number): Promise<BulkGetItem[]> {
    const { handle, keys, enc } = this.entry(storeName);
    if (userKeys.length === 0) return [];
    const reqs = userKeys.map((k) => ({ key: keys.storeKey(k), metadata }));
    let items: BulkGetItem[];
    try {
      items = await handle.bulkGet(reqs, parallelism);
    } catch (err) {
      throw new DaprError('stateBulkGet', messageOf(err), { cause: err });
    }
    // Stores answer in request order; the key Dapr returns is the second `||` segment.
    for (const it of items) {
      it.key = originalKey(it.key);
      if (enc && it.data !== undefined && !it.error) {
        try {
          it.data = enc.decrypt(it.data);
        } catch (err) {
          it.data = undefined;
          it.etag = undefined;
          it.metadata = undefined;
          it.error = messageOf(err);
        }
      }
    }
    return items;
  }

  async save(storeName: string, items: readonly SaveItem[]): Promise<void> {
    const { handle, keys, enc } = this.entry(storeName);
    const reqs = items.map((it) => ({
      key: keys.storeKey(it.key),
      value: enc ? enc.encrypt(typeof it.value === 'string' ? Buffer.from(it.value) : it.value) : it.value,
      etag: it.etag,
      metadata: it.metadata,
      options: checkOptions(it.options, 'stateSave', storeName),
    }));
    const results = await Promise.allSettled(reqs.map((r) => handle.set(r)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!failed) return;
    const err = failed.reason as unknown;
    const kind = err instanceof ETagError ? (err.kind === 'mismatch' ? 'stateSaveEtagMismatch' : 'stateSaveEtagInvalid') : 'stateSave';
    throw new DaprError(kind, `failed saving state in state store ${storeName}: ${messageOf(err)}`, { cause: err });
  }

  async delete(storeName: string, key: string, etag: string | undefined, options: StateOptions, metadata: Record<string, string>): Promise<void> {
    const { handle, keys } = this.entry(storeName);
    const req = { key: keys.storeKey(key), etag, metadata, options: checkOptions(options, 'stateDelete', storeName) };
    try {
      await handle.delete(req);
    } catch (err) {
      const kind = err instanceof ETagError ? (err.kind === 'mismatch' ? 'stateDeleteEtagMismatch' : 'stateDeleteEtagInvalid') : 'stateDelete';
      throw new DaprError(kind, `failed deleting state with key ${key}: ${messageOf(err)}`, { cause: err });
    }
  }

  /** Refuses stores without transactions before the body is read, as Dapr does. */
  checkTransactional(storeName: string): void {
    const { handle } = this.entry(storeName);
    if (!handle.supportsTransactions) {
      throw new DaprError('stateTransactionsNotSupported', `state store ${storeName} doesn't support transactions`);
    }
  }

  /** `ops` carry user keys; they are prefixed here. */
  async transaction(storeName: string, ops: TransactionOperation[], metadata: Record<string, string>, trace: TraceContext = NO_TRACE): Promise<void> {
    this.checkTransactional(storeName);
    const { handle, keys, enc, outbox } = this.entry(storeName);
    if (ops.length === 0) return;
    for (const op of ops) {
      op.request.key = keys.storeKey(op.request.key);
      op.request.options = checkOptions(op.request.options, 'stateTransaction', storeName);
    }
    const max = handle.store.multiMaxSize ?? 0;
    if (max > 0 && ops.length > max) {
      throw new DaprError(
        'stateTooManyTransactions',
        `the transaction contains ${ops.length} operations, which is more than what the state store supports: ${max}`,
        { metadata: { currentOpsTransaction: String(ops.length), maxOpsPerTransaction: String(max) } },
      );
    }
    // Outbox events carry the values as the app sent them; the store gets them encrypted.
    let markers: TransactionOperation[] = [];
    if (outbox) ({ ops, markers } = await outbox.prepare(ops, trace));
    if (enc) {
      ops = ops.map((op): TransactionOperation => {
        if (op.operation !== 'upsert') return op;
        const v = op.request.value;
        return { operation: 'upsert', request: { ...op.request, value: enc.encrypt(typeof v === 'string' ? Buffer.from(v) : v) } };
      });
    }
    if (markers.length > 0) ops = [...ops, ...markers];
    try {
      await handle.multi(ops, metadata);
    } catch (err) {
      throw new DaprError('stateTransaction', `error while executing state transaction: ${messageOf(err)}`, { cause: err });
    }
  }

  /** Refuses stores without the query API before the body is read. */
  checkQueryable(storeName: string): void {
    const { handle, enc } = this.entry(storeName);
    if (!handle.supportsQuery) throw new DaprError('stateQueryNotSupported', 'state store does not support querying');
    if (enc) throw new DaprError('stateQuery', `state store ${storeName} query failed: cannot query encrypted store`);
  }

  async query(storeName: string, text: string, metadata: Record<string, string>): Promise<QueryResponse> {
    this.checkQueryable(storeName);
    const { handle } = this.entry(storeName);
    let q;
    try {
      q = parseStateQuery(text);
    } catch (err) {
      throw new DaprError('stateQuery', `state store ${storeName} query failed: ${messageOf(err)}`, { cause: err });
    }
    let res: QueryResponse;
    try {
      res = await handle.query(q, metadata);
    } catch (err) {
      throw new DaprError('stateQuery', `state store ${storeName} query failed: ${messageOf(err)}`, { cause: err });
    }
    for (const r of res.results) r.key = originalKey(r.key);
    return res;
  }

  /** Capabilities as GET /v1.0/metadata lists them: the store's features, plus ACTOR for the actor store. */
  capabilities(storeName: string): string[] | undefined {
    const e = this.stores.get(storeName);
    if (!e) return undefined;
    const caps = [...e.handle.store.features];
    if (e.handle === this.actorStore) caps.push(StateFeature.actor);
    return caps;
  }
}

const CONCURRENCY = new Set(['', 'first-write', 'last-write']);
const CONSISTENCY = new Set(['', 'strong', 'eventual']);

function checkOptions(o: StateOptions, kind: 'stateSave' | 'stateDelete' | 'stateTransaction', storeName: string): StateOptions {
  const c = o.concurrency ?? '';
  const s = o.consistency ?? '';
  const problem = !CONCURRENCY.has(c) ? `unrecognized concurrency model '${c}'` : !CONSISTENCY.has(s) ? `unrecognized consistency model '${s}'` : undefined;
  if (problem) {
    const msg = kind === 'stateSave' ? `failed saving state in state store ${storeName}: ${problem}` : kind === 'stateDelete' ? `failed deleting state: ${problem}` : `error while executing state transaction: ${problem}`;
    throw new DaprError(kind, msg);
  }
  return { concurrency: (c || undefined) as Concurrency | undefined, consistency: (s || undefined) as Consistency | undefined };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
