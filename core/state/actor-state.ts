// Actor state as the actors block uses it: the one store marked `actorStateStore`, keys
// `<appId>||<actorType>||<actorId>||<key>`, and `partitionKey=<appId>||<actorType>||<actorId>` on
// every call, as Dapr's actor runtime sends them. Calls go through the store's policy.
import type { BlockContext } from '../block.js';
import type { GetResponse, StateValue, TransactionOperation } from './component.js';
import { KEY_SEPARATOR, actorStateKey } from './keys.js';
import { StateService } from './service.js';
import type { StoreHandle } from './store-handle.js';

export interface ActorStateOperation {
  operation: 'upsert' | 'delete';
  key: string;
  /** JSON text (or bytes) for upserts. */
  value?: StateValue;
  etag?: string;
  /** Per-operation metadata, e.g. ttlInSeconds. */
  metadata?: Record<string, string>;
}

export class ActorStateStore {
  constructor(
    readonly handle: StoreHandle,
    readonly appId: string,
  ) {}

  get name(): string {
    return this.handle.name;
  }

  partitionKey(actorType: string, actorId: string): string {
    return `${this.appId}${KEY_SEPARATOR}${actorType}${KEY_SEPARATOR}${actorId}`;
  }

  /** Undefined when the key does not exist. Store errors propagate (Dapr: ERR_ACTOR_STATE_GET). */
  get(actorType: string, actorId: string, key: string): Promise<GetResponse | undefined> {
    return this.handle.get({
      key: actorStateKey(this.appId, actorType, actorId, key),
      metadata: { partitionKey: this.partitionKey(actorType, actorId) },
    });
  }

  /** All or nothing. Store errors propagate (Dapr: ERR_ACTOR_STATE_TRANSACTION_SAVE). */
  transact(actorType: string, actorId: string, ops: readonly ActorStateOperation[]): Promise<void> {
    const partitionKey = this.partitionKey(actorType, actorId);
    const txOps: TransactionOperation[] = ops.map((op) => {
      const key = actorStateKey(this.appId, actorType, actorId, op.key);
      const metadata = { ...op.metadata, partitionKey };
      return op.operation === 'upsert'
        ? { operation: 'upsert', request: { key, value: op.value ?? 'null', etag: op.etag, metadata, options: {} } }
        : { operation: 'delete', request: { key, etag: op.etag, metadata, options: {} } };
    });
    if (txOps.length === 0) return Promise.resolve();
    return this.handle.multi(txOps, { partitionKey });
  }
}

/** The actor state store of a sidecar, or undefined when no store is marked `actorStateStore`. */
export function openActorStateStore(ctx: Pick<BlockContext, 'appId' | 'namespace' | 'components' | 'resources' | 'policies' | 'telemetry' | 'logger'>): ActorStateStore | undefined {
  const handle = new StateService(ctx).actorStore;
  return handle ? new ActorStateStore(handle, ctx.appId) : undefined;
}
