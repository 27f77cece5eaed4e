// The workflow engine: instances as event-sourced durabletask histories, stepped by the
// workers that the app connects over GetWorkItems. Every change to an instance runs under that
// instance's lock and is stored before its side effects (activities, timers, children, events)
// happen, so a restarted sidecar redoes side effects from the stored record: activities run at
// least once, timers fire after a restart, children are started or reported again.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../component.js';
import type { Span, Telemetry } from '../telemetry.js';
import { event, fromTimestamp, isTerminal, sv, toTimestamp, typeOf, type FailureDetails, type HistoryEvent, type RuntimeStatus, type StringValue, type Timestamp } from './history.js';
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

export class WorkflowError extends Error {
  constructor(
    readonly reason: 'notFound' | 'exists' | 'invalid' | 'notHeld' | 'running',
    message: string,
  ) {
    super(message);
  }
}

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
}

export class WorkflowEngine {
  private readonly recs = new Map<string, InstanceRecord>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly inflight = new Map<string, InFlight>();
  private readonly activityHolders = new Map<string, { worker: Worker; span: Span }>();
  private readonly waitingOrchestrations = new Set<string>();
  private readonly waitingActivities: Array<{ id: string; taskId: number }> = [];
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private workers: Worker[] = [];
  private readonly outstanding = new Map<Worker, number>();
  private next = 0;
  private pumping = false;
  private closed = false;
  private readonly store: InstanceStore;
  private readonly logger: Logger;
  private readonly telemetry: Telemetry;

  constructor(opts: EngineOptions) {
    this.store = opts.store;
    this.logger = opts.logger;
    this.telemetry = opts.telemetry;
  }

  get connectedWorkers(): number {
    return this.workers.length;
  }

  /** Loads every stored instance and resumes the unfinished ones. */
  async recover(): Promise<void> {
    const ids = await this.store.loadIndex();
    for (const id of ids) {
      const rec = await this.store.load(id);
      if (rec) this.recs.set(id, rec);
    }
    let resumed = 0;
    for (const rec of this.recs.values()) {
      if (isTerminal(rec.status)) continue;
      resumed++;
      for (const [taskId, fireAt] of Object.entries(rec.timers)) this.armTimer(rec.id, Number(taskId), fireAt);
      for (const taskId of Object.keys(rec.activities)) this.dispatchActivity(rec.id, Number(taskId));
      for (const e of rec.history) {
        const created = e.subOrchestrationInstanceCreated as { instanceId: string; name: string; input?: StringValue | null } | undefined;
        if (!created) continue;
        const child = this.recs.get(created.instanceId);
        if (!child) void this.startChild(rec, e.eventId, created.instanceId, created.name, created.input?.value);
        else if (isTerminal(child.status) && !this.childReported(rec, e.eventId)) void this.reportToParent(child);
      }
      this.kick(rec.id);
    }
    if (resumed > 0) this.logger.info(`workflow: resumed ${resumed} unfinished instance(s) from the state store`);
  }

  // ---- workers ----

  addWorker(w: Worker): void {
    this.workers.push(w);
    this.outstanding.set(w, 0);
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

  get(id: string): InstanceRecord | undefined {
    return this.recs.get(id);
  }

  list(): IterableIterator<InstanceRecord> {
    return this.recs.values();
  }

  async start(name: string, id: string, input: string | undefined, startAt?: number, parent?: InstanceRecord['parent'], traceparent?: string): Promise<string> {
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

  async raiseEvent(id: string, name: string, input: string | undefined): Promise<void> {
    await this.locked(id, async () => {
      const rec = this.must(id);
      if (isTerminal(rec.status)) return;
      rec.inbox.push(event('eventRaised', { name, input: sv(input) }));
      await this.commit(rec);
    });
    this.kick(id);
  }

  async terminate(id: string, output: string | undefined): Promise<void> {
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
      await this.commit(rec);
    });
    this.notify(id);
    // Recursive, as Dapr terminates the children of a terminated workflow.
    for (const child of rec.children) if (this.recs.has(child)) await this.terminate(child, output);
    void this.reportToParent(rec);
  }

  async suspend(id: string): Promise<void> {
    await this.locked(id, async () => {
      const rec = this.must(id);
      if (rec.status !== 'RUNNING' && rec.status !== 'PENDING') return;
      rec.status = 'SUSPENDED';
      await this.commit(rec);
    });
    this.notify(id);
  }

  async resume(id: string): Promise<void> {
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
  async purge(id: string): Promise<number> {
    const rec = this.must(id);
    if (!isTerminal(rec.status)) throw new WorkflowError('running', `workflow '${id}' is still running and cannot be purged`);
    let n = 0;
    for (const child of rec.children) if (this.recs.get(child) && isTerminal(this.recs.get(child)!.status)) n += await this.purge(child);
    await this.locked(id, async () => {
      await this.store.remove(id);
      this.forget(id);
    });
    return n + 1;
  }

  /** Resolves when `pred` holds for the instance (or it is gone), or when `signal` aborts. */
  waitFor(id: string, pred: (r: InstanceRecord) => boolean, signal: AbortSignal): Promise<InstanceRecord | undefined> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        const r = this.recs.get(id);
        if (!r || pred(r)) {
          done(r);
          return true;
        }
        return false;
      };
      const set = this.waiters.get(id) ?? new Set<() => void>();
      const listener = (): void => void check();
      const done = (r: InstanceRecord | undefined): void => {
        set.delete(listener);
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const onAbort = (): void => done(this.recs.get(id));
      if (check()) return;
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
        const t = setTimeout(() => this.kick(id), NOT_REGISTERED_RETRY_MS);
        t.unref();
        return;
      }
      rec.history.push(...f.newEvents);
      rec.inbox.splice(0, f.count);
      if (rec.status === 'PENDING') rec.status = 'RUNNING';
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
      await this.commit(rec);
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
    this.inflight.set(id, { worker, newEvents, count: rec.inbox.length, span });
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
    this.activityHolders.set(`${id}#${taskId}`, { worker, span });
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

  private async deliver(id: string, e: HistoryEvent, childTaskId?: number): Promise<void> {
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
