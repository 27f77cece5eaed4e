// One state store as the block (and the actors block) calls it: every call runs under the
// store's component-outbound policy and is recorded as a component metric. Keys given here are
// store keys (already prefixed); error mapping to Dapr's codes is the caller's business.
import type { CallPolicy, PolicyProvider } from '../policy.js';
import type { Telemetry } from '../telemetry.js';
import type {
  BulkGetItem, DeleteRequest, GetRequest, GetResponse, QueryResponse, SetRequest, StateQuery, StateStore,
  TransactionOperation,
} from './component.js';
import { StateFeature } from './component.js';

export class StoreHandle {
  readonly features: ReadonlySet<string>;

  constructor(
    readonly name: string,
    readonly store: StateStore,
    private readonly policies: PolicyProvider,
    private readonly telemetry: Telemetry,
  ) {
    this.features = new Set(store.features);
  }

  get supportsETag(): boolean {
    return this.features.has(StateFeature.etag);
  }

  get supportsTransactions(): boolean {
    return this.features.has(StateFeature.transactional) && typeof this.store.multi === 'function';
  }

  get supportsQuery(): boolean {
    return this.features.has(StateFeature.query) && typeof this.store.query === 'function';
  }

  private get policy(): CallPolicy {
    return this.policies.componentOutbound(this.name);
  }

  async get(req: GetRequest): Promise<GetResponse | undefined> {
    const started = performance.now();
    let ok = false;
    try {
      const r = await this.policy.run(() => this.store.get(req));
      ok = true;
      return r;
    } finally {
      this.telemetry.recordComponent('state', this.name, 'get', ok, performance.now() - started);
    }
  }

  /**
   * One entry per request, in order. Stores with a native bulk get answer in one call; others
   * are fanned out `parallelism` at a time (all at once when <= 0), a failed key carrying `error`.
   */
  async bulkGet(reqs: readonly GetRequest[], parallelism: number): Promise<BulkGetItem[]> {
    const started = performance.now();
    let ok = false;
    try {
      let out: BulkGetItem[];
      if (this.store.bulkGet) {
        out = await this.policy.run(() => this.store.bulkGet!(reqs));
      } else {
        out = new Array<BulkGetItem>(reqs.length);
        let next = 0;
        const worker = async (): Promise<void> => {
          while (next < reqs.length) {
            const i = next++;
            const req = reqs[i]!;
            try {
              const r = await this.policy.run(() => this.store.get(req));
              out[i] = r ? { key: req.key, data: r.data, etag: r.etag, metadata: r.metadata } : { key: req.key };
            } catch (err) {
              out[i] = { key: req.key, error: (err as Error).message };
            }
          }
        };
        const n = parallelism > 0 ? Math.min(parallelism, reqs.length) : reqs.length;
        await Promise.all(Array.from({ length: n }, worker));
      }
      ok = true;
      return out;
    } finally {
      this.telemetry.recordComponent('state', this.name, 'bulk_get', ok, performance.now() - started);
    }
  }

  async set(req: SetRequest): Promise<void> {
    const started = performance.now();
    let ok = false;
    try {
      await this.policy.run(() => this.store.set(req));
      ok = true;
    } finally {
      this.telemetry.recordComponent('state', this.name, 'set', ok, performance.now() - started);
    }
  }

  async delete(req: DeleteRequest): Promise<void> {
    const started = performance.now();
    let ok = false;
    try {
      await this.policy.run(() => this.store.delete(req));
      ok = true;
    } finally {
      this.telemetry.recordComponent('state', this.name, 'delete', ok, performance.now() - started);
    }
  }

  /** All or nothing; the caller checks supportsTransactions first. */
  async multi(ops: readonly TransactionOperation[], metadata: Readonly<Record<string, string>>): Promise<void> {
    const started = performance.now();
    let ok = false;
    try {
      await this.policy.run(() => this.store.multi!(ops, metadata));
      ok = true;
    } finally {
      this.telemetry.recordComponent('state', this.name, 'state_transaction', ok, performance.now() - started);
    }
  }

  /** The caller checks supportsQuery first. */
  async query(q: StateQuery, metadata: Readonly<Record<string, string>>): Promise<QueryResponse> {
    const started = performance.now();
    let ok = false;
    try {
      const r = await this.policy.run(() => this.store.query!(q, metadata));
      ok = true;
      return r;
    } finally {
      this.telemetry.recordComponent('state', this.name, 'state_query', ok, performance.now() - started);
    }
  }
}
