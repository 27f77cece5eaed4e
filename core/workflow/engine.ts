// The workflow engine: instances as event-sourced durabletask histories, stepped by the
// workers that the app connects over GetWorkItems. Every change to an instance runs under that
// instance's lock and is stored before its side effects (activities, timers, children, events)
// happen, so a restarted sidecar redoes side effects from the stored record: activities run at
// least once, timers fire after a restart, children are started or reported again.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../component.js';
import type { Span, Telemetry, WorkflowOperation } from '../telemetry.js';
import { event, fromTimestamp, isTerminal, sv, toTimestamp, typeOf, type FailureDetails, type HistoryEvent, type RuntimeStatus, type StringValue, type Timestamp } from './history.js';
import { WorkflowError } from './engine-errors.js';
import type { WorkflowOwners } from './owners.js';
import type { RetentionPolicy } from './retention.js';
import type { InstanceRecord, InstanceStore } from './store.js';

export interface WorkItem {
  orchestratorRequest?: Record<string, unknown>;
  activityRequest?: Record<string, unknown>;
}

/** A connected GetWorkItems stream. */
export interface Worker {
  readonly id: number;
  send(item: WorkItem): void;
}

export { WorkflowError };

interface OrchestratorAction {
  id: number;
  scheduleTask?: { name: string; input?: StringValue | null } | null;
  createSubOrchestration?: { instanceId: string; name: string; input?: StringValue | null } | null;
  createTimer?: { fireAt?: Timestamp | null } | null;
  sendEvent?: { instance?: { instanceId: string } | null; name: string; data?: StringValue | null } | null;
  completeOrchestration?: {
    orchestrationStatus: number | string;
    result?: StringValue | null;
    carryoverEvents?: HistoryEvent[];
    failureDetails?: FailureDetails | null;
  } | null;
  terminateOrchestration?: { instanceId: string; reason?: StringValue | null; recurse?: boolean } | null;
}

export interface OrchestratorResponse {
  instanceId: string;
  actions: OrchestratorAction[];
  customStatus?: StringValue | null;
}

export interface ActivityResponse {
  instanceId: string;
  taskId: number;
  result?: StringValue | null;
  failureDetails?: FailureDetails | null;
}

interface InFlight {
  worker: Worker;
  newEvents: HistoryEvent[];
  /** How many inbox events newEvents carries. */
  count: number;
  span: Span;
  sentAt: number;
}

const NOT_REGISTERED_RETRY_MS = 5_000;
// Work items a worker holds at once. The JS SDK runs 10 and queues 100, and drops what comes
// beyond that: the sidecar keeps the rest and hands it out as the worker answers.
const MAX_OUTSTANDING_PER_WORKER = 64;
const MAX_TIMEOUT_MS = 2_147_000_000;

export interface EngineOptions {
  store: InstanceStore;
  logger: Logger;
  telemetry: Telemetry;
  /** Which sidecar runs each instance; absent: this one runs them all. */
  owners?: WorkflowOwners | undefined;
  /** Configuration spec.workflow.stateRetentionPolicy; absent: finished instances stay until purged. */
  retention?: RetentionPolicy | undefined;
}

/** What a client waits for: the first step committed, or a final status. */
export type WaitUntil = 'start' | 'completion';

/** An instance this sidecar was asked about is run by another one now. */
export class MovedError extends Error {}

const WAIT_CHUNK_MS = 20_000;

export class WorkflowEngine {
  private readonly recs = new Map<string, InstanceRecord>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly inflight = new Map<string, InFlight>();
  private readonly activityHolders = new Map<string, { worker: Worker; span: Span; name: string; sentAt: number }>();
  private readonly waitingOrchestrations = new Set<string>();
  private readonly waitingActivities: Array<{ id: string; taskId: number }> = [];
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly purgeTimers = new Map<string, NodeJS.Timeout>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly loading = new Map<string, Promise<InstanceRecord | undefined>>();
  private rebalancing: Promise<void> = Promise.resolve();
  private workers: Worker[] = [];
  private readonly outstanding = new Map<Worker, number>();
  private next = 0;
  private pumping = false;
  private closed = false;
  private readonly store: InstanceStore;
  private readonly logger: Logger;
  private readonly telemetry: Telemetry;
  private readonly owners: WorkflowOwners | undefined;
  private readonly retention: RetentionPolicy | undefined;

  constructor(opts: EngineOptions) {
    this.retention = opts.retention;
    this.store = opts.store;
    this.logger = opts.logger;
    this.telemetry = opts.telemetry;
    this.owners = opts.owners;
  }

  /** Runs a client operation, counted in dapr_runtime_workflow_operation_*. */
  async measured<T>(op: WorkflowOperation, fn: () => Promise<T>): Promise<T> {
    const m = this.telemetry.workflows;
    if (!m) return fn();
    const started = performance.now();
    let ok = false;
    try {
      const v = await fn();
      ok = true;
      return v;
    } finally {
      m.operation(op, ok, performance.now() - started);
    }
  }

  get connectedWorkers(): number {
    return this.workers.length;
  }

  /** Loads the stored instances this sidecar runs and resumes the unfinished ones. */
  async recover(): Promise<void> {
    let resumed = 0;
    for (const id of await this.store.loadIndex()) {
      if (!this.isLocal(id) || this.recs.has(id)) continue;
      const rec = await this.ensure(id);
      if (rec && !isTerminal(rec.status)) resumed++;
    }
    if (resumed > 0) this.logger.info(`workflow: resumed ${resumed} unfinished instance(s) from the state store`);
  }

  /**
   * After a placement change: lets go of the instances another sidecar owns now, then (once
   * their old owners have let go) loads the ones this sidecar owns now and resumes them.
   */
  rebalance(): Promise<void> {
    const owners = this.owners;
    if (!owners) return Promise.resolve();
    this.rebalancing = this.rebalancing.then(async () => {
      let moved = 0;
      for (const id of [...this.recs.keys()]) {
        const o = owners.ownerOf(id);
        if (o === 'local' || o === 'none') continue;
        await this.locked(id, async () => this.letGo(id));
        moved++;
      }
      const delay = owners.adoptDelayMs;
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      let adopted = 0;
      for (const id of await this.store.loadIndex()) {
        if (this.closed || owners.ownerOf(id) !== 'local' || this.recs.has(id)) continue;
        const rec = await this.ensure(id);
        if (rec && !isTerminal(rec.status)) adopted++;
      }
      if (moved + adopted > 0) this.logger.info(`workflow: placement changed: ${moved} instance(s) moved to other sidecars, ${adopted} unfinished instance(s) taken over`);
    }).catch((err: Error) => this.logger.warn(`workflow: taking over instances failed: ${err.message}`));
    return this.rebalancing;
  }

  private isLocal(id: string): boolean {
    return this.owners ? this.owners.isLocal(id) : true;
  }

  /** Runs an operation on the instance's owner: here, or forwarded to its sidecar. */
  private route<T>(id: string, op: string, args: object, local: () => Promise<T>): Promise<T> {
    return this.owners ? this.owners.run(id, op, args, local) : local();
  }

  /** A peer forwarded an operation: runs it if this sidecar owns the instance. */
  async serve(op: string, a: Record<string, any>): Promise<unknown> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const id = String(a.id ?? '');
    if (!this.isLocal(id)) throw new MovedError(`workflow instance ${id} is not run by this sidecar`);
    switch (op) {
      case 'start':
        return this.startHere(a.name, id, a.input, a.startAt, a.parent, a.traceparent);
      case 'get':
        return (await this.ensure(id)) ?? null;
      case 'wait':
        return this.waitHere(id, a.until, AbortSignal.timeout(Math.min(Number(a.ms) || WAIT_CHUNK_MS, WAIT_CHUNK_MS)));
      case 'raise':
        return this.raiseHere(id, a.name, a.input);
      case 'terminate':
        return this.terminateHere(id, a.output);
      case 'suspend':
        return this.suspendHere(id);
      case 'resume':
        return this.resumeHere(id);
      case 'purge':
        return this.purgeHere(id);
      case 'deliver':
        return this.deliverHere(id, a.event, a.childTaskId ?? undefined);
      default:
        throw new WorkflowError('invalid', `unknown workflow operation ${op}`);
    }
  }

  /** The instance, loaded from the store (and resumed) the first time this sidecar needs it. */
  private ensure(id: string): Promise<InstanceRecord | undefined> {
    const rec = this.recs.get(id);
    if (rec) return Promise.resolve(rec);
    let p = this.loading.get(id);
    if (!p) {
      p = this.adopt(id).finally(() => this.loading.delete(id));
      this.loading.set(id, p);
    }
    return p;
  }

  private async adopt(id: string): Promise<InstanceRecord | undefined> {
    const delay = this.owners?.adoptDelayMs ?? 0;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    const rec = await this.store.load(id);
    if (!rec || this.recs.has(id) || this.closed) return this.recs.get(id) ?? rec;
    this.recs.set(id, rec);
    this.resumeRecord(rec);
    return rec;
  }

  /** Redoes the side effects a stored unfinished record shows as pending. */
  private resumeRecord(rec: InstanceRecord): void {
    if (isTerminal(rec.status)) return this.armPurge(rec);
    for (const [taskId, fireAt] of Object.entries(rec.timers)) this.armTimer(rec.id, Number(taskId), fireAt);
    for (const taskId of Object.keys(rec.activities)) this.dispatchActivity(rec.id, Number(taskId));
    for (const e of rec.history) {
      const created = e.subOrchestrationInstanceCreated as { instanceId: string; name: string; input?: StringValue | null } | undefined;
      if (!created) continue;
      const taskId = e.eventId;
      if (this.childReported(rec, taskId)) continue;
      void this.get(created.instanceId)
        .then((child) => {
          if (!child) return this.startChild(rec, taskId, created.instanceId, created.name, created.input?.value);
          if (isTerminal(child.status)) return this.reportToParent(child);
          return undefined;
        })
        .catch((err: Error) => this.logger.warn(`workflow ${rec.id}: child ${created.instanceId}: ${err.message}`));
    }
    this.kick(rec.id);
  }

  /** Another sidecar runs the instance now: forget it here, work handed out for it included. */
  private letGo(id: string): void {
    const rec = this.recs.get(id);
    if (!rec) return;
    this.clearTimers(rec);
    for (const t of Object.keys(rec.activities)) {
      const h = this.activityHolders.get(`${id}#${t}`);
      h?.span.end();
      this.dropActivity(`${id}#${t}`);
    }
    for (let i = this.waitingActivities.length - 1; i >= 0; i--) if (this.waitingActivities[i]!.id === id) this.waitingActivities.splice(i, 1);
    this.waitingOrchestrations.delete(id);
    const f = this.inflight.get(id);
    if (f) {
      f.span.end();
      this.release(f.worker);
    }
    this.inflight.delete(id);
    this.disarmPurge(id);
    this.recs.delete(id);
    this.notify(id);
  }

  /** Under a retention policy, an instance that just ended gets its purge time (stored with it). */
  private retain(rec: InstanceRecord): void {
    const ms = this.retention?.retainFor(rec.status);
    rec.purgeAt = ms === undefined ? undefined : rec.updatedAt + ms;
  }

  private armPurge(rec: InstanceRecord): void {
    const at = rec.purgeAt;
    if (at === undefined || this.closed) return;
    const id = rec.id;
    this.disarmPurge(id);
    const t = setTimeout(
      () => {
        this.purgeTimers.delete(id);
        if (at > Date.now()) return this.armPurge(rec);
        // Only this instance: its children have their own retention.
        void this.purgeHere(id, false)
          .then(() => this.logger.debug(`workflow ${id}: purged by the retention policy`))
          .catch((err: Error) => {
            if (!(err instanceof WorkflowError)) this.logger.warn(`workflow ${id}: retention purge failed: ${err.message}`);
          });
      },
      Math.max(0, Math.min(at - Date.now(), MAX_TIMEOUT_MS)),
    );
    t.unref();
    this.purgeTimers.set(id, t);
  }

  private disarmPurge(id: string): void {
    clearTimeout(this.purgeTimers.get(id));
    this.purgeTimers.delete(id);
  }

  // ---- workers ----

  addWorker(w: Worker): void {
    this.workers.push(w);
    this.outstanding.set(w, 0);
    this.owners?.setHosting(true);
    this.pump();
  }

  /** Hands waiting work to workers with room. */
  private pump(): void {
    while (this.waitingActivities.length > 0 && this.hasRoom()) {
      const a = this.waitingActivities.shift()!;
      this.dispatchActivity(a.id, a.taskId);
    }
    for (const id of this.waitingOrchestrations) {
      if (!this.hasRoom()) break;
      this.waitingOrchestrations.delete(id);
      this.kick(id);
    }
  }

  private hasRoom(): boolean {
    for (const n of this.outstanding.values()) if (n < MAX_OUTSTANDING_PER_WORKER) return true;
    return false;
  }

  private release(w: Worker): void {
    const n = this.outstanding.get(w);
    if (n === undefined) return;
    this.outstanding.set(w, Math.max(0, n - 1));
    if (!this.pumping) {
      this.pumping = true;
      queueMicrotask(() => {
        this.pumping = false;
        this.pump();
      });
    }
  }

  /** A worker went away: what it held is handed to another worker. */
  removeWorker(w: Worker): void {
    this.workers = this.workers.filter((x) => x !== w);
    this.outstanding.delete(w);
    if (this.workers.length === 0) this.owners?.setHosting(false);
    for (const [id, f] of [...this.inflight]) {
      if (f.worker !== w) continue;
      this.inflight.delete(id);
      f.span.end();
      this.kick(id);
    }
    for (const [key, h] of [...this.activityHolders]) {
      if (h.worker !== w) continue;
      this.activityHolders.delete(key);
      h.span.end();
      this.telemetry.workflows?.activity(h.name, 'recoverable', Date.now() - h.sentAt);
      const hash = key.lastIndexOf('#');
      this.dispatchActivity(key.slice(0, hash), Number(key.slice(hash + 1)));
    }
  }

  private pickWorker(): Worker | undefined {
    for (let i = 0; i < this.workers.length; i++) {
      this.next = (this.next + 1) % this.workers.length;
      const w = this.workers[this.next]!;
      const n = this.outstanding.get(w) ?? 0;
      if (n < MAX_OUTSTANDING_PER_WORKER) {
        this.outstanding.set(w, n + 1);
        return w;
      }
    }
    return undefined;
  }

  // ---- client operations ----

  /** The instance as its owner has it, or undefined. */
  async get(id: string): Promise<InstanceRecord | undefined> {
    return (await this.route(id, 'get', { id }, () => this.ensure(id))) ?? undefined;
  }

  /** Every stored instance (for queries and purges by filter): fresh here, as last stored elsewhere. */
  async list(): Promise<InstanceRecord[]> {
    const ids = await this.store.loadIndex();
    const out = await Promise.all(ids.map((id) => this.recs.get(id) ?? this.store.load(id)));
    return out.filter((r): r is InstanceRecord => r !== undefined);
  }

  start(name: string, id: string, input: string | undefined, startAt?: number, parent?: InstanceRecord['parent'], traceparent?: string): Promise<string> {
    return this.route(id, 'start', { name, id, input, startAt, parent, traceparent }, () => this.startHere(name, id, input, startAt, parent, traceparent));
  }

  private async startHere(name: string, id: string, input: string | undefined, startAt?: number, parent?: InstanceRecord['parent'], traceparent?: string): Promise<string> {
    await this.ensure(id);
    return this.locked(id, async () => {
      const old = this.recs.get(id);
      if (old && !isTerminal(old.status)) throw new WorkflowError('exists', `an active workflow with ID '${id}' already exists`);
      if (old) this.forget(id);
      const now = Date.now();
      const executionId = randomUUID();
      const rec: InstanceRecord = {
        id,
        name,
        executionId,
        status: 'PENDING',
        createdAt: now,
        updatedAt: now,
        input,
        parent,
        startAt,
        history: [],
        inbox: [
          event('executionStarted', {
            name,
            input: sv(input),
            orchestrationInstance: { instanceId: id, executionId: sv(executionId) },
            ...(parent ? { parentInstance: { taskScheduledId: parent.taskId, name: sv(parent.name), orchestrationInstance: { instanceId: parent.instanceId } } } : {}),
            ...(startAt ? { scheduledStartTimestamp: toTimestamp(startAt) } : {}),
          }),
        ],
        activities: {},
        timers: {},
        children: [],
        traceparent,
      };
      await this.store.save(rec);
      await this.store.track(id);
      this.recs.set(id, rec);
      return id;
    }).then((id) => {
      this.kick(id);
      return id;
    });
  }

  raiseEvent(id: string, name: string, input: string | undefined): Promise<void> {
    return this.route(id, 'raise', { id, name, input }, () => this.raiseHere(id, name, input));
  }

  private async raiseHere(id: string, name: string, input: string | undefined): Promise<void> {
    await this.ensure(id);
    await this.locked(id, async () => {
      const rec = this.must(id);
      if (isTerminal(rec.status)) return;
      rec.inbox.push(event('eventRaised', { name, input: sv(input) }));
      await this.commit(rec);
    });
    this.kick(id);
  }

  terminate(id: string, output: string | undefined): Promise<void> {
    return this.route(id, 'terminate', { id, output }, () => this.terminateHere(id, output));
  }

  private async terminateHere(id: string, output: string | undefined): Promise<void> {
    await this.ensure(id);
    const rec = this.must(id);
    await this.locked(id, async () => {
      if (isTerminal(rec.status)) return;
      const f = this.inflight.get(id);
      if (f) {
        f.span.end();
        this.release(f.worker);
      }
      this.inflight.delete(id);
      this.waitingOrchestrations.delete(id);
      this.clearTimers(rec);
      for (const t of Object.keys(rec.activities)) this.dropActivity(`${id}#${t}`);
      rec.activities = {};
      rec.inbox = [];
      rec.history.push(event('executionTerminated', { input: sv(output), recurse: true }));
      rec.status = 'TERMINATED';
      rec.output = output;
      rec.updatedAt = Date.now();
      this.retain(rec);
      await this.commit(rec);
      this.armPurge(rec);
      this.telemetry.workflows?.execution(rec.name, 'terminated', rec.updatedAt - rec.createdAt);
    });
    this.notify(id);
    // Recursive, as Dapr terminates the children of a terminated workflow.
    for (const child of rec.children) {
      await this.terminate(child, output).catch((err: Error) => {
        if (!(err instanceof WorkflowError && err.reason === 'notFound')) this.logger.warn(`workflow ${id}: terminating child ${child}: ${err.message}`);
      });
    }
    void this.reportToParent(rec);
  }

  suspend(id: string): Promise<void> {
    return this.route(id, 'suspend', { id }, () => this.suspendHere(id));
  }

  private async suspendHere(id: string): Promise<void> {
    await this.ensure(id);
    await this.locked(id, async () => {
      const rec = this.must(id);
      if (rec.status !== 'RUNNING' && rec.status !== 'PENDING') return;
      rec.status = 'SUSPENDED';
      await this.commit(rec);
    });
    this.notify(id);
  }

  resume(id: string): Promise<void> {
    return this.route(id, 'resume', { id }, () => this.resumeHere(id));
  }

  private async resumeHere(id: string): Promise<void> {
    await this.ensure(id);
    await this.locked(id, async () => {
      const rec = this.must(id);
      if (rec.status !== 'SUSPENDED') return;
      rec.status = rec.history.length > 0 ? 'RUNNING' : 'PENDING';
      await this.commit(rec);
    });
    this.notify(id);
    this.kick(id);
  }

  /** Deletes a finished instance and, recursively, its children. Returns how many were deleted. */
  purge(id: string): Promise<number> {
    return this.route(id, 'purge', { id }, () => this.purgeHere(id));
  }

  private async purgeHere(id: string, recursive = true): Promise<number> {
    await this.ensure(id);
    const rec = this.must(id);
    if (!isTerminal(rec.status)) throw new WorkflowError('running', `workflow '${id}' is still running and cannot be purged`);
    let n = 0;
    for (const child of recursive ? rec.children : []) {
      const c = await this.get(child);
      if (c && isTerminal(c.status)) n += await this.purge(child);
    }
    await this.locked(id, async () => {
      await this.store.remove(id);
      this.forget(id);
    });
    return n + 1;
  }

  /** Resolves when the instance started or finished (or is gone), or when `signal` aborts (then with its state now). */
  async waitFor(id: string, until: WaitUntil, signal: AbortSignal): Promise<InstanceRecord | undefined> {
    for (;;) {
      const r = await this.route(id, 'wait', { id, until, ms: WAIT_CHUNK_MS }, () => this.waitHere(id, until, signal));
      if (r.done) return r.rec ?? undefined;
      if (signal.aborted || this.closed) return this.get(id);
    }
  }

  /** Waits here; `done: false` when the instance moved to another sidecar or `signal` aborted. */
  private async waitHere(id: string, until: WaitUntil, signal: AbortSignal): Promise<{ done: boolean; rec?: InstanceRecord | null }> {
    await this.ensure(id);
    const pred = until === 'start' ? (r: InstanceRecord) => r.status !== 'PENDING' : (r: InstanceRecord) => isTerminal(r.status);
    return new Promise((resolve) => {
      const set = this.waiters.get(id) ?? new Set<() => void>();
      const done = (v: { done: boolean; rec?: InstanceRecord | null }): void => {
        set.delete(listener);
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      };
      const check = (): boolean => {
        const r = this.recs.get(id);
        if (r && !pred(r)) return false;
        done(r || this.isLocal(id) ? { done: true, rec: r ?? null } : { done: false });
        return true;
      };
      const listener = (): void => void check();
      const onAbort = (): void => done({ done: false });
      if (check()) return;
      if (signal.aborted) return onAbort();
      set.add(listener);
      this.waiters.set(id, set);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  // ---- worker results ----

  async completeOrchestration(res: OrchestratorResponse, worker?: Worker): Promise<void> {
    const id = res.instanceId;
    const effects: Array<() => void | Promise<void>> = [];
    await this.locked(id, async () => {
      const f = this.inflight.get(id);
      const rec = this.recs.get(id);
      if (!f || !rec || (worker && f.worker !== worker)) throw new WorkflowError('notHeld', `no orchestration work item for instance '${id}' is outstanding`);
      this.inflight.delete(id);
      this.release(f.worker);
      const actions = res.actions ?? [];
      const complete = actions.find((a) => a.completeOrchestration)?.completeOrchestration;
      if (complete && statusName(complete.orchestrationStatus) === 'FAILED' && complete.failureDetails?.errorType === 'OrchestratorNotRegisteredError') {
        // As Dapr: the instance stays where it was and the worker's error is recorded; try again later.
        rec.failure = complete.failureDetails;
        rec.updatedAt = Date.now();
        f.span.recordError(new Error(complete.failureDetails.errorMessage));
        f.span.end();
        this.telemetry.workflows?.execution(rec.name, 'recoverable');
        const t = setTimeout(() => this.kick(id), NOT_REGISTERED_RETRY_MS);
        t.unref();
        return;
      }
      rec.history.push(...f.newEvents);
      rec.inbox.splice(0, f.count);
      if (rec.status === 'PENDING') {
        rec.status = 'RUNNING';
        this.telemetry.workflows?.scheduling(rec.name, f.sentAt - (rec.startAt ?? rec.createdAt));
      }
      rec.failure = undefined;
      if (res.customStatus) rec.customStatus = res.customStatus.value;
      for (const a of actions) {
        if (a.scheduleTask) {
          rec.history.push(event('taskScheduled', { name: a.scheduleTask.name, input: a.scheduleTask.input ?? null }, a.id));
          rec.activities[a.id] = { name: a.scheduleTask.name, input: a.scheduleTask.input?.value };
          effects.push(() => this.dispatchActivity(id, a.id));
        } else if (a.createTimer) {
          const fireAt = fromTimestamp(a.createTimer.fireAt) ?? Date.now();
          rec.history.push(event('timerCreated', { fireAt: toTimestamp(fireAt) }, a.id));
          rec.timers[a.id] = fireAt;
          effects.push(() => this.armTimer(id, a.id, fireAt));
        } else if (a.createSubOrchestration) {
          const c = a.createSubOrchestration;
          const childId = c.instanceId || `${id}:${a.id.toString(16).padStart(4, '0')}`;
          rec.history.push(event('subOrchestrationInstanceCreated', { instanceId: childId, name: c.name, input: c.input ?? null }, a.id));
          rec.children.push(childId);
          effects.push(() => this.startChild(rec, a.id, childId, c.name, c.input?.value));
        } else if (a.sendEvent) {
          const s = a.sendEvent;
          const target = s.instance?.instanceId ?? '';
          rec.history.push(event('eventSent', { instanceId: target, name: s.name, input: s.data ?? null }, a.id));
          effects.push(() => this.raiseEvent(target, s.name, s.data?.value).catch((err: Error) => this.logger.warn(`workflow ${id}: event to ${target}: ${err.message}`)));
        } else if (a.terminateOrchestration) {
          const t = a.terminateOrchestration;
          effects.push(() => this.terminate(t.instanceId, t.reason?.value).catch((err: Error) => this.logger.warn(`workflow ${id}: terminate ${t.instanceId}: ${err.message}`)));
        }
      }
      if (complete) {
        const status = statusName(complete.orchestrationStatus);
        if (status === 'CONTINUED_AS_NEW') {
          this.continueAsNew(rec, complete.result?.value, complete.carryoverEvents ?? []);
        } else {
          rec.history.push(event('executionCompleted', { orchestrationStatus: complete.orchestrationStatus, result: complete.result ?? null, failureDetails: complete.failureDetails ?? null }));
          rec.status = status;
          rec.output = complete.result?.value;
          rec.failure = complete.failureDetails ?? undefined;
          this.clearTimers(rec);
          rec.inbox = [];
          effects.push(() => this.reportToParent(rec));
        }
      }
      if (rec.status === 'FAILED' && rec.failure) f.span.recordError(new Error(rec.failure.errorMessage));
      f.span.end();
      if (isTerminal(rec.status)) {
        rec.updatedAt = Date.now();
        this.retain(rec);
      }
      await this.commit(rec);
      this.armPurge(rec);
      if (isTerminal(rec.status)) this.telemetry.workflows?.execution(rec.name, rec.status === 'COMPLETED' ? 'success' : 'failed', rec.updatedAt - rec.createdAt);
    });
    this.notify(id);
    for (const e of effects) void Promise.resolve(e()).catch((err: Error) => this.logger.warn(`workflow ${id}: ${err.message}`));
    this.kick(id);
  }

  async completeActivity(res: ActivityResponse, worker?: Worker): Promise<void> {
    const id = res.instanceId;
    const key = `${id}#${res.taskId}`;
    await this.locked(id, async () => {
      const rec = this.recs.get(id);
      const holder = this.activityHolders.get(key);
      if (!rec || !rec.activities[res.taskId] || (worker && holder && holder.worker !== worker)) {
        throw new WorkflowError('notHeld', `no activity task ${res.taskId} of instance '${id}' is outstanding`);
      }
      this.dropActivity(key);
      if (holder) this.telemetry.workflows?.activity(holder.name, res.failureDetails ? 'failed' : 'success', Date.now() - holder.sentAt);
      delete rec.activities[res.taskId];
      if (res.failureDetails) {
        holder?.span.recordError(new Error(res.failureDetails.errorMessage));
        rec.inbox.push(event('taskFailed', { taskScheduledId: res.taskId, failureDetails: res.failureDetails }));
      } else {
        rec.inbox.push(event('taskCompleted', { taskScheduledId: res.taskId, result: res.result ?? null }));
      }
      holder?.span.end();
      await this.commit(rec);
    });
    this.kick(id);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const t of this.purgeTimers.values()) clearTimeout(t);
    this.purgeTimers.clear();
    for (const set of this.waiters.values()) for (const fn of set) fn();
  }

  // ---- internals ----

  /** Sends the instance's next step to a worker when it has new events and nothing in flight. */
  private kick(id: string): void {
    if (this.closed) return;
    const rec = this.recs.get(id);
    if (!rec || rec.inbox.length === 0 || this.inflight.has(id)) return;
    if (isTerminal(rec.status) || rec.status === 'SUSPENDED') return;
    if (rec.startAt && rec.startAt > Date.now()) {
      const t = setTimeout(() => this.kick(id), Math.min(rec.startAt - Date.now(), MAX_TIMEOUT_MS));
      t.unref();
      return;
    }
    const worker = this.pickWorker();
    if (!worker) {
      this.waitingOrchestrations.add(id);
      return;
    }
    const newEvents = [event('orchestratorStarted', {}), ...rec.inbox];
    const span = this.telemetry.startSpan(`orchestration||${rec.name}`, 'internal', rec.traceparent ? { traceparent: rec.traceparent } : undefined);
    if (span.isRecording) {
      span.setAttribute('dapr.workflow.instance_id', id);
      span.setAttribute('dapr.workflow.name', rec.name);
    }
    this.inflight.set(id, { worker, newEvents, count: rec.inbox.length, span, sentAt: Date.now() });
    worker.send({
      orchestratorRequest: {
        instanceId: id,
        executionId: sv(rec.executionId),
        pastEvents: rec.history,
        newEvents,
      },
    });
  }

  private dropActivity(key: string): void {
    const h = this.activityHolders.get(key);
    if (!h) return;
    this.activityHolders.delete(key);
    this.release(h.worker);
  }

  private dispatchActivity(id: string, taskId: number): void {
    if (this.closed) return;
    const rec = this.recs.get(id);
    const a = rec?.activities[taskId];
    if (!rec || !a) return;
    const worker = this.pickWorker();
    if (!worker) {
      this.waitingActivities.push({ id, taskId });
      return;
    }
    const span = this.telemetry.startSpan(`activity||${a.name}`, 'internal', rec.traceparent ? { traceparent: rec.traceparent } : undefined);
    if (span.isRecording) {
      span.setAttribute('dapr.workflow.instance_id', id);
      span.setAttribute('dapr.workflow.activity', a.name);
    }
    this.activityHolders.set(`${id}#${taskId}`, { worker, span, name: a.name, sentAt: Date.now() });
    worker.send({
      activityRequest: {
        name: a.name,
        input: sv(a.input),
        orchestrationInstance: { instanceId: id, executionId: sv(rec.executionId) },
        taskId,
      },
    });
  }

  private armTimer(id: string, taskId: number, fireAt: number): void {
    const key = `${id}#${taskId}`;
    clearTimeout(this.timers.get(key));
    const delay = fireAt - Date.now();
    const t = setTimeout(
      () => {
        this.timers.delete(key);
        if (fireAt > Date.now()) return this.armTimer(id, taskId, fireAt);
        void this.fireTimer(id, taskId, fireAt).catch((err: Error) => {
          this.logger.warn(`workflow ${id}: timer ${taskId}: ${err.message}; retrying`);
          this.armTimer(id, taskId, Date.now() + 1000);
        });
      },
      Math.max(0, Math.min(delay, MAX_TIMEOUT_MS)),
    );
    this.timers.set(key, t);
  }

  private async fireTimer(id: string, taskId: number, fireAt: number): Promise<void> {
    await this.locked(id, async () => {
      const rec = this.recs.get(id);
      if (!rec || rec.timers[taskId] === undefined) return;
      delete rec.timers[taskId];
      rec.inbox.push(event('timerFired', { fireAt: toTimestamp(fireAt), timerId: taskId }));
      await this.commit(rec);
    });
    this.kick(id);
  }

  private clearTimers(rec: InstanceRecord): void {
    for (const taskId of Object.keys(rec.timers)) {
      clearTimeout(this.timers.get(`${rec.id}#${taskId}`));
      this.timers.delete(`${rec.id}#${taskId}`);
    }
    rec.timers = {};
  }

  private continueAsNew(rec: InstanceRecord, input: string | undefined, carryover: HistoryEvent[]): void {
    this.clearTimers(rec);
    for (const t of Object.keys(rec.activities)) this.dropActivity(`${rec.id}#${t}`);
    const pendingEvents = rec.inbox.filter((e) => typeOf(e) === 'eventRaised');
    rec.executionId = randomUUID();
    rec.input = input;
    rec.output = undefined;
    rec.history = [];
    rec.activities = {};
    rec.status = 'RUNNING';
    rec.inbox = [
      event('executionStarted', {
        name: rec.name,
        input: sv(input),
        orchestrationInstance: { instanceId: rec.id, executionId: sv(rec.executionId) },
        ...(rec.parent ? { parentInstance: { taskScheduledId: rec.parent.taskId, name: sv(rec.parent.name), orchestrationInstance: { instanceId: rec.parent.instanceId } } } : {}),
      }),
      ...carryover.map((e) => ({ ...e, timestamp: e.timestamp ?? toTimestamp(Date.now()) })),
      ...pendingEvents,
    ];
  }

  private async startChild(parent: InstanceRecord, taskId: number, childId: string, name: string, input: string | undefined): Promise<void> {
    try {
      await this.start(name, childId, input, undefined, { instanceId: parent.id, taskId, name: parent.name }, parent.traceparent);
    } catch (err) {
      const msg = (err as Error).message;
      await this.deliver(parent.id, event('subOrchestrationInstanceFailed', { taskScheduledId: taskId, failureDetails: { errorType: 'StartError', errorMessage: msg } }));
    }
  }

  private childReported(parent: InstanceRecord, taskId: number): boolean {
    const is = (e: HistoryEvent): boolean => {
      const body = (e.subOrchestrationInstanceCompleted ?? e.subOrchestrationInstanceFailed) as { taskScheduledId?: number } | undefined;
      return body?.taskScheduledId === taskId;
    };
    return parent.history.some(is) || parent.inbox.some(is);
  }

  /** Tells a parent that its child finished. */
  private async reportToParent(child: InstanceRecord): Promise<void> {
    const p = child.parent;
    if (!p || !isTerminal(child.status)) return;
    const e =
      child.status === 'COMPLETED'
        ? event('subOrchestrationInstanceCompleted', { taskScheduledId: p.taskId, result: sv(child.output) })
        : event('subOrchestrationInstanceFailed', {
            taskScheduledId: p.taskId,
            failureDetails: child.failure ?? { errorType: 'WorkflowTerminated', errorMessage: `child workflow '${child.id}' was ${child.status.toLowerCase()}` },
          });
    await this.deliver(p.instanceId, e, p.taskId);
  }

  private deliver(id: string, e: HistoryEvent, childTaskId?: number): Promise<void> {
    return this.route(id, 'deliver', { id, event: e, childTaskId: childTaskId ?? null }, () => this.deliverHere(id, e, childTaskId));
  }

  private async deliverHere(id: string, e: HistoryEvent, childTaskId?: number): Promise<void> {
    await this.ensure(id);
    await this.locked(id, async () => {
      const rec = this.recs.get(id);
      if (!rec || isTerminal(rec.status)) return;
      if (childTaskId !== undefined && this.childReported(rec, childTaskId)) return;
      rec.inbox.push(e);
      await this.commit(rec);
    });
    this.kick(id);
  }

  private async commit(rec: InstanceRecord): Promise<void> {
    rec.updatedAt = Date.now();
    await this.store.save(rec);
  }

  private notify(id: string): void {
    const set = this.waiters.get(id);
    if (!set) return;
    for (const fn of [...set]) fn();
    if (set.size === 0) this.waiters.delete(id);
  }

  private forget(id: string): void {
    const rec = this.recs.get(id);
    if (rec) this.clearTimers(rec);
    this.disarmPurge(id);
    this.recs.delete(id);
    const f = this.inflight.get(id);
    if (f) this.release(f.worker);
    this.inflight.delete(id);
    this.notify(id);
  }

  private must(id: string): InstanceRecord {
    const rec = this.recs.get(id);
    if (!rec) throw new WorkflowError('notFound', `no such instance exists: ${id}`);
    return rec;
  }

  /** Runs `fn` after every earlier operation on the same instance. */
  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return run;
  }
}

function statusName(s: number | string): RuntimeStatus {
  if (typeof s === 'string') return (s.replace('ORCHESTRATION_STATUS_', '') as RuntimeStatus) ?? 'FAILED';
  return (['RUNNING', 'COMPLETED', 'CONTINUED_AS_NEW', 'FAILED', 'CANCELED', 'TERMINATED', 'PENDING', 'SUSPENDED'] as const)[s] ?? 'FAILED';
}
