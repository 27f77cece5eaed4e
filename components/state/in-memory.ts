// state.in-memory: a map held by the sidecar process, lost on restart. Each write gets a random
// UUID ETag; TTLs are checked on read and swept every second; a transaction checks every ETag
// first and then applies all writes, so it is all or nothing.
import { randomUUID } from 'node:crypto';
import type { ComponentContext } from '../../core/component.js';
import {
  ETagError, StateFeature, formatExpireTime, hasETag, parseTTL, type BulkGetItem, type DeleteRequest, type GetRequest,
  type GetResponse, type SetRequest, type StateStore, type StateValue, type TransactionOperation,
} from '../../core/state/component.js';

interface Item {
  data: StateValue;
  etag: string;
  /** Epoch ms, or 0 for none. */
  expires: number;
}

class InMemoryStore implements StateStore {
  readonly features = [StateFeature.etag, StateFeature.transactional, StateFeature.ttl];
  private readonly items = new Map<string, Item>();
  private readonly sweeper: NodeJS.Timeout;

  constructor() {
    this.sweeper = setInterval(() => this.sweep(), 1000);
    this.sweeper.unref();
  }

  private live(key: string, now = Date.now()): Item | undefined {
    const it = this.items.get(key);
    if (it && it.expires !== 0 && it.expires <= now) {
      this.items.delete(key);
      return undefined;
    }
    return it;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, it] of this.items) if (it.expires !== 0 && it.expires <= now) this.items.delete(k);
  }

  async get(req: GetRequest): Promise<GetResponse | undefined> {
    const it = this.live(req.key);
    if (!it) return undefined;
    return { data: it.data, etag: it.etag, metadata: it.expires ? { ttlExpireTime: formatExpireTime(it.expires) } : undefined };
  }

  async bulkGet(reqs: readonly GetRequest[]): Promise<BulkGetItem[]> {
    return reqs.map((r) => {
      const it = this.live(r.key);
      if (!it) return { key: r.key };
      return { key: r.key, data: it.data, etag: it.etag, metadata: it.expires ? { ttlExpireTime: formatExpireTime(it.expires) } : undefined };
    });
  }

  /** Throws when the write or delete may not happen. */
  private check(key: string, etag: string | undefined, concurrency: string | undefined): void {
    const it = this.live(key);
    if (hasETag(etag)) {
      if (!it) throw new ETagError('mismatch', `state not exist or expired for key=${key}`);
      if (it.etag !== etag) throw new ETagError('mismatch', `state etag not match for key=${key}: current=${it.etag}, expect=${etag}`);
    } else if (concurrency === 'first-write' && it) {
      throw new ETagError('mismatch', 'item already exists and no etag was passed');
    }
  }

  private write(key: string, value: StateValue, ttl: number | undefined): void {
    this.items.set(key, { data: value, etag: randomUUID(), expires: ttl !== undefined && ttl > 0 ? Date.now() + ttl * 1000 : 0 });
  }

  async set(req: SetRequest): Promise<void> {
    const ttl = parseTTL(req.metadata);
    this.check(req.key, req.etag, req.options.concurrency);
    this.write(req.key, req.value, ttl);
  }

  async delete(req: DeleteRequest): Promise<void> {
    this.check(req.key, req.etag, req.options.concurrency);
    this.items.delete(req.key);
  }

  async multi(ops: readonly TransactionOperation[]): Promise<void> {
    // Everything that can fail happens before the first write; the event loop is the lock.
    const ttls = ops.map((op) => (op.operation === 'upsert' ? parseTTL(op.request.metadata) : undefined));
    for (const op of ops) this.check(op.request.key, op.request.etag, op.request.options.concurrency);
    ops.forEach((op, i) => {
      if (op.operation === 'upsert') this.write(op.request.key, op.request.value, ttls[i]);
      else this.items.delete(op.request.key);
    });
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.items.clear();
  }
}

export async function createInMemoryStateStore(_ctx: ComponentContext): Promise<StateStore> {
  return new InMemoryStore();
}
