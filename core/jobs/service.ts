// Jobs, persisted in the actor state store (the store marked `actorStateStore: "true"`; the
// embedded default is SQLite) under one key per app, `dapr-jobs||<appId>`, updated with ETags.
// Every sidecar of the app polls it and arms timers. To deliver a trigger a sidecar first takes
// a lease on the job (owner and expiry written under the ETag): of several sidecars only one
// wins, delivers to its app's POST /job/{name}, then advances the job and drops the lease. A
// sidecar that dies mid-delivery leaves a lease that expires, and another one delivers instead.
import { randomUUID } from 'node:crypto';
import type { AppCaller } from '../app.js';
import type { Logger } from '../component.js';
import { ETagError } from '../state/component.js';
import type { StoreHandle } from '../state/store-handle.js';
import type { Telemetry } from '../telemetry.js';
import { firstTrigger, nextTrigger, retryDelay, type JobErrors, type JobSpec, type StoredJob } from './job.js';

const LEASE_MS = 30_000;
const MAX_CAS = 50;

type Table = Record<string, StoredJob>;

export class JobsService {
  private readonly owner = `${process.pid}-${randomUUID()}`;
  private readonly armed = new Map<string, { at: number; handle: NodeJS.Timeout }>();
  private poll: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly store: StoreHandle | undefined,
    private readonly appId: string,
    private readonly app: AppCaller | undefined,
    readonly errors: JobErrors,
    private readonly logger: Logger,
    private readonly telemetry: Telemetry,
    private readonly pollMs = 500,
  ) {}

  private get key(): string {
    return `dapr-jobs||${this.appId}`;
  }

  private handle(kind: 'schedulerScheduleJob' | 'schedulerGetJob' | 'schedulerDeleteJob'): StoreHandle {
    if (!this.store) throw this.errors.make(kind, `${verb(kind)} due to: no state store for jobs: set metadata actorStateStore: "true" on one state store component`);
    return this.store;
  }

  private async read(store: StoreHandle): Promise<{ table: Table; etag: string | undefined }> {
    const r = await store.get({ key: this.key, metadata: {} });
    if (!r) return { table: {}, etag: undefined };
    const text = typeof r.data === 'string' ? r.data : Buffer.from(r.data).toString('utf8');
    return { table: (JSON.parse(text) as Table) ?? {}, etag: r.etag };
  }

  private async update<T>(store: StoreHandle, change: (t: Table) => { write: boolean; result: T }): Promise<T> {
    for (let i = 0; ; i++) {
      const { table, etag } = await this.read(store);
      const { write, result } = change(table);
      if (!write) return result;
      try {
        await store.set({ key: this.key, value: JSON.stringify(table), etag, metadata: {}, options: { concurrency: 'first-write' } });
        return result;
      } catch (err) {
        if (!(err instanceof ETagError) || i >= MAX_CAS) throw err;
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 25));
      }
    }
  }

  async schedule(spec: JobSpec, overwrite: boolean): Promise<void> {
    const store = this.handle('schedulerScheduleJob');
    const now = Date.now();
    const { nextAt, expiresAt } = firstTrigger(spec, now, this.errors);
    const job: StoredJob = { spec, createdAt: now, nextAt, count: 0, attempt: 0, ...(expiresAt !== undefined ? { expiresAt } : {}) };
    let exists = false;
    try {
      await this.update(store, (t) => {
        if (t[spec.name] && !overwrite) {
          exists = true;
          return { write: false, result: undefined };
        }
        t[spec.name] = job;
        return { write: true, result: undefined };
      });
    } catch (err) {
      throw this.errors.make('schedulerScheduleJob', `failed to schedule job due to: ${(err as Error).message}`, err);
    }
    if (exists) throw this.errors.make('schedulerScheduleJobExists', `failed to schedule job due to: job ${spec.name} already exists`);
    this.kick();
  }

  async get(name: string): Promise<JobSpec> {
    const store = this.handle('schedulerGetJob');
    let job: StoredJob | undefined;
    try {
      job = (await this.read(store)).table[name];
    } catch (err) {
      throw this.errors.make('schedulerGetJob', `failed to get job due to: ${(err as Error).message}`, err);
    }
    if (!job) throw this.errors.make('schedulerGetJob', `failed to get job due to: job not found: ${name}`);
    return job.spec;
  }

  async delete(name: string): Promise<void> {
    const store = this.handle('schedulerDeleteJob');
    try {
      await this.update(store, (t) => {
        if (!t[name]) return { write: false, result: undefined };
        delete t[name];
        return { write: true, result: undefined };
      });
    } catch (err) {
      throw this.errors.make('schedulerDeleteJob', `failed to delete job due to: ${(err as Error).message}`, err);
    }
    this.disarm(name);
  }

  /** Starts polling once the app can take triggers. */
  start(): void {
    if (!this.store || !this.app) return;
    const tick = (): void => {
      if (this.closed) return;
      this.poll = setTimeout(() => void this.sync().finally(tick), this.pollMs);
      this.poll.unref();
    };
    void this.sync().finally(tick);
  }

  private kick(): void {
    if (this.poll) void this.sync();
  }

  private sync(): Promise<void> {
    this.syncing ??= this.syncOnce().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    let table: Table;
    try {
      ({ table } = await this.read(this.store!));
    } catch (err) {
      this.logger.warn(`jobs: reading jobs failed: ${(err as Error).message}`);
      return;
    }
    for (const [name, job] of Object.entries(table)) {
      const at = Math.max(job.nextAt, job.lease ? job.lease.until : 0);
      const cur = this.armed.get(name);
      if (cur && cur.at === at) continue;
      if (cur) clearTimeout(cur.handle);
      const handle = setTimeout(() => void this.due(name, job.nextAt), Math.max(0, at - Date.now()));
      handle.unref();
      this.armed.set(name, { at, handle });
    }
    for (const name of [...this.armed.keys()]) if (!table[name]) this.disarm(name);
  }

  private disarm(name: string): void {
    const cur = this.armed.get(name);
    if (cur) clearTimeout(cur.handle);
    this.armed.delete(name);
  }

  /** Takes the lease on the trigger due at `at`, delivers it, then advances the job. */
  private async due(name: string, at: number): Promise<void> {
    this.armed.delete(name);
    if (this.closed) return;
    const store = this.store!;
    let job: StoredJob | undefined;
    try {
      job = await this.update(store, (t) => {
        const j = t[name];
        const now = Date.now();
        if (!j || j.nextAt !== at || j.nextAt > now || (j.lease && j.lease.until > now)) return { write: false, result: undefined };
        j.lease = { owner: this.owner, until: now + LEASE_MS };
        return { write: true, result: structuredClone(j) };
      });
    } catch (err) {
      this.logger.warn(`jobs: taking the lease of ${name} failed: ${(err as Error).message}`);
    }
    if (!job) return void this.sync();
    const ok = await this.deliver(job);
    try {
      await this.update(store, (t) => {
        const j = t[name];
        if (!j || j.lease?.owner !== this.owner || j.nextAt !== at) return { write: false, result: undefined };
        delete j.lease;
        const now = Date.now();
        const retry = ok ? undefined : retryDelay(j);
        if (retry !== undefined) {
          j.attempt++;
          j.nextAt = now + retry;
          return { write: true, result: undefined };
        }
        j.count++;
        j.attempt = 0;
        // A sidecar that was down for several periods triggers once now, then keeps the schedule.
        const next = nextTrigger(j, Math.max(at, now - 1));
        if (next === undefined) delete t[name];
        else j.nextAt = next;
        return { write: true, result: undefined };
      });
    } catch (err) {
      this.logger.warn(`jobs: advancing ${name} failed: ${(err as Error).message}`);
    }
    void this.sync();
  }

  /** POST /job/{name} with the data as JSON (in a new trace); 2xx and 404 count as done, as in Dapr. */
  private async deliver(job: StoredJob): Promise<boolean> {
    const name = job.spec.name;
    const span = this.telemetry.startSpan(`job/${name}`, 'client');
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (span.traceparent) headers.traceparent = span.traceparent;
    if (span.tracestate) headers.tracestate = span.tracestate;
    try {
      const res = await this.app!.call({
        method: 'POST',
        path: `/job/${encodeURIComponent(name)}`,
        headers,
        body: job.spec.data === undefined ? '' : JSON.stringify(job.spec.data),
        headersTimeout: LEASE_MS / 2,
      });
      await res.body.dump();
      span.setHttpStatus(res.statusCode);
      if ((res.statusCode >= 200 && res.statusCode < 300) || res.statusCode === 404) return true;
      this.logger.warn(`jobs: the app answered ${res.statusCode} to job ${name}`);
      return false;
    } catch (err) {
      span.recordError(err);
      this.logger.warn(`jobs: delivering job ${name} failed: ${(err as Error).message}`);
      return false;
    } finally {
      span.end();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.poll) clearTimeout(this.poll);
    for (const name of [...this.armed.keys()]) this.disarm(name);
    await this.syncing;
  }
}

function verb(kind: string): string {
  return kind === 'schedulerGetJob' ? 'failed to get job' : kind === 'schedulerDeleteJob' ? 'failed to delete job' : 'failed to schedule job';
}
