// Where workflow instances live: one JSON record per instance in the actor state store, under
// the internal actor type `dapr.internal.<namespace>.<appId>.workflow` and the instance id as
// actor id (as Dapr keeps workflow state on internal actors), plus one index of instance ids so
// a restarted sidecar (or the sidecar that takes an instance over) finds the instances it must resume.
import type { ActorStateStore } from '../state/actor-state.js';
import { ETagError } from '../state/component.js';
import type { FailureDetails, HistoryEvent, RuntimeStatus } from './history.js';

export interface InstanceRecord {
  id: string;
  name: string;
  executionId: string;
  status: RuntimeStatus;
  createdAt: number;
  updatedAt: number;
  input?: string | undefined;
  output?: string | undefined;
  customStatus?: string | undefined;
  failure?: FailureDetails | undefined;
  parent?: { instanceId: string; taskId: number; name: string } | undefined;
  /** Not dispatched before this time (ms since epoch). */
  startAt?: number | undefined;
  /** Committed history. */
  history: HistoryEvent[];
  /** Events that arrived and were not yet committed by an orchestrator step. */
  inbox: HistoryEvent[];
  /** Activities scheduled and not yet completed, by task id. */
  activities: Record<string, { name: string; input?: string | undefined }>;
  /** Durable timers not yet fired: task id -> fire time (ms). */
  timers: Record<string, number>;
  children: string[];
  /** Set when the instance ended under a retention policy: purged at this time (ms since epoch). */
  purgeAt?: number | undefined;
  /** W3C traceparent of the call that started the instance: its spans join that trace. */
  traceparent?: string | undefined;
}

const INDEX_ID = 'index';
const INDEX_KEY = 'instances';

function text(data: string | Uint8Array): string {
  return typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
}

export class InstanceStore {
  readonly actorType: string;
  private readonly indexType: string;
  /** Index changes not yet written: id -> true (add) or false (remove). */
  private readonly pending = new Map<string, boolean>();
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly state: ActorStateStore,
    appId: string,
    namespace: string,
  ) {
    this.actorType = `dapr.internal.${namespace}.${appId}.workflow`;
    this.indexType = `${this.actorType}.index`;
  }

  /** The instance ids as stored now (sidecars of one app id share the index). */
  async loadIndex(): Promise<string[]> {
    return (await this.readIndex()).ids;
  }

  private async readIndex(): Promise<{ ids: string[]; etag: string | undefined }> {
    const got = await this.state.get(this.indexType, INDEX_ID, INDEX_KEY);
    return got ? { ids: JSON.parse(text(got.data)) as string[], etag: got.etag } : { ids: [], etag: undefined };
  }

  async load(id: string): Promise<InstanceRecord | undefined> {
    const got = await this.state.get(this.actorType, id, 'state');
    return got ? (JSON.parse(text(got.data)) as InstanceRecord) : undefined;
  }

  save(rec: InstanceRecord): Promise<void> {
    return this.state.transact(this.actorType, rec.id, [{ operation: 'upsert', key: 'state', value: JSON.stringify(rec) }]);
  }

  async remove(id: string): Promise<void> {
    await this.state.transact(this.actorType, id, [{ operation: 'delete', key: 'state' }]);
    this.pending.set(id, false);
    await this.flushIndex();
  }

  /** Resolves once the index that lists `id` is stored. */
  async track(id: string): Promise<void> {
    this.pending.set(id, true);
    await this.flushIndex();
  }

  // Writes of the one index key are coalesced (many starts at once share a write) and made with
  // the ETag of the index just read, so two sidecars writing at once do not lose each other's ids.
  private async flushIndex(): Promise<void> {
    while (this.pending.size > 0) {
      if (this.flushing) {
        await this.flushing;
        continue;
      }
      const batch = new Map(this.pending);
      this.pending.clear();
      this.flushing = this.writeIndex(batch);
      try {
        await this.flushing;
      } catch (err) {
        for (const [id, add] of batch) if (!this.pending.has(id)) this.pending.set(id, add);
        throw err;
      } finally {
        this.flushing = undefined;
      }
    }
  }

  private async writeIndex(batch: ReadonlyMap<string, boolean>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const { ids, etag } = await this.readIndex();
      const set = new Set(ids);
      for (const [id, add] of batch) if (add) set.add(id);
      else set.delete(id);
      try {
        await this.state.transact(this.indexType, INDEX_ID, [{ operation: 'upsert', key: INDEX_KEY, value: JSON.stringify([...set]), ...(etag ? { etag } : {}) }]);
        return;
      } catch (err) {
        if (!(err instanceof ETagError) || attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
      }
    }
  }
}
