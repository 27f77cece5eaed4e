// Where workflow instances live: one JSON record per instance in the actor state store, under
// the internal actor type `dapr.internal.<namespace>.<appId>.workflow` and the instance id as
// actor id (as Dapr keeps workflow state on internal actors), plus one index of instance ids so
// a restarted sidecar finds the instances it must resume.
import type { ActorStateStore } from '../state/actor-state.js';
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
  /** W3C traceparent of the call that started the instance: its spans join that trace. */
  traceparent?: string | undefined;
}

const INDEX_ID = 'index';
const INDEX_KEY = 'instances';

export class InstanceStore {
  readonly actorType: string;
  private readonly indexType: string;
  private readonly ids = new Set<string>();
  private flushing: Promise<void> | undefined;
  private dirty = false;

  constructor(
    private readonly state: ActorStateStore,
    appId: string,
    namespace: string,
  ) {
    this.actorType = `dapr.internal.${namespace}.${appId}.workflow`;
    this.indexType = `${this.actorType}.index`;
  }

  async loadIndex(): Promise<string[]> {
    const got = await this.state.get(this.indexType, INDEX_ID, INDEX_KEY);
    const list = got ? (JSON.parse(typeof got.data === 'string' ? got.data : Buffer.from(got.data).toString('utf8')) as string[]) : [];
    for (const id of list) this.ids.add(id);
    return list;
  }

  async load(id: string): Promise<InstanceRecord | undefined> {
    const got = await this.state.get(this.actorType, id, 'state');
    if (!got) return undefined;
    return JSON.parse(typeof got.data === 'string' ? got.data : Buffer.from(got.data).toString('utf8')) as InstanceRecord;
  }

  save(rec: InstanceRecord): Promise<void> {
    return this.state.transact(this.actorType, rec.id, [{ operation: 'upsert', key: 'state', value: JSON.stringify(rec) }]);
  }

  async remove(id: string): Promise<void> {
    await this.state.transact(this.actorType, id, [{ operation: 'delete', key: 'state' }]);
    if (this.ids.delete(id)) await this.flushIndex();
  }

  /** Resolves once the index that lists `id` is stored. */
  async track(id: string): Promise<void> {
    if (this.ids.has(id)) return;
    this.ids.add(id);
    await this.flushIndex();
  }

  // Writes of the one index key are coalesced: many starts at once share a write.
  private async flushIndex(): Promise<void> {
    this.dirty = true;
    while (this.dirty) {
      if (this.flushing) {
        await this.flushing;
        continue;
      }
      this.dirty = false;
      const value = JSON.stringify([...this.ids]);
      this.flushing = this.state.transact(this.indexType, INDEX_ID, [{ operation: 'upsert', key: INDEX_KEY, value }]);
      try {
        await this.flushing;
      } finally {
        this.flushing = undefined;
      }
    }
  }
}
