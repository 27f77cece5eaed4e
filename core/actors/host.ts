// The actors active on this sidecar: activation on first call, one turn at a time (TurnLock),
// idle deactivation with `DELETE /actors/{type}/{id}`, timers, and every app call under a timeout
// so a hung app cannot hold an actor forever. Callbacks go only for hosted types and active ids.
import { randomUUID } from 'node:crypto';
import type { AppCaller } from '../app.js';
import type { Logger } from '../component.js';
import { DaprError } from '../errors.js';
import type { CallPolicy } from '../policy.js';
import type { HostedActors, TypeConfig } from './config.js';
import { nextFire, type Schedule } from './reminder-time.js';
import { TurnLock } from './turn-lock.js';

export const REENTRANCY_HEADER = 'dapr-reentrancy-id';
export const ERROR_RESPONSE_HEADER = 'x-daprerrorresponseheader';
export const REMINDER_CANCEL_HEADER = 'x-daprremindercancel';

export interface CallInput {
  headers: Record<string, string | string[]>;
  body: Buffer | null;
  query: string;
}

export interface CallResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

interface TimerEntry {
  name: string;
  handle: NodeJS.Timeout | undefined;
  schedule: Schedule;
  left: number;
  body: string;
}

class ActiveActor {
  readonly lock = new TurnLock();
  lastUsed = Date.now();
  readonly timers = new Map<string, TimerEntry>();
  deactivating = false;
  /** Calls waiting for or holding the turn (dapr_runtime_actor_pending_actor_calls). */
  pending = 0;
  constructor(
    readonly type: string,
    readonly id: string,
  ) {}
}

/** What the host reports (core/telemetry.ts ActorMetrics fits); labelled by type, never id. */
export interface HostMetrics {
  deactivated?(type: string, success: boolean): void;
  timerFired?(type: string, success: boolean): void;
  rebalanced?(type: string): void;
}

const NOT_FORWARDED = new Set(['host', 'connection', 'keep-alive', 'content-length', 'transfer-encoding', 'dapr-api-token', 'dapr-app-id', 'upgrade', 'te', 'trailer']);

export function appPath(type: string, id: string, method?: string): string {
  const base = `/actors/${encodeURIComponent(type)}/${encodeURIComponent(id)}`;
  return method === undefined ? base : `${base}/method/${method.split('/').map(encodeURIComponent).join('/')}`;
}

export function callHeaders(incoming: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in incoming) {
    const v = incoming[k];
    if (v !== undefined && !NOT_FORWARDED.has(k)) out[k] = v;
  }
  return out;
}

export class ActorHost {
  private readonly active = new Map<string, ActiveActor>();
  private scan: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly app: AppCaller,
    private hosted: HostedActors,
    private readonly logger: Logger,
    /** Upper bound of one app call (a Resiliency timeout may be shorter). */
    private readonly callTimeoutMs: number,
    private readonly metrics: HostMetrics = {},
  ) {
    const smallest = Math.min(...[...hosted.byType.values()].map((c) => c.idleTimeoutMs), 60_000);
    const every = Math.max(100, Math.min(1_000, Math.floor(smallest / 4)));
    this.scan = setInterval(() => this.deactivateIdle(), every);
    this.scan.unref();
  }

  /** The app's config changed: actors of types it no longer hosts are deactivated. */
  setHosted(hosted: HostedActors): void {
    this.hosted = hosted;
    for (const a of [...this.active.values()]) if (!hosted.byType.has(a.type)) void this.deactivate(a.type, a.id, 'type no longer hosted');
  }

  isHosted(type: string): boolean {
    return this.hosted.byType.has(type);
  }

  config(type: string): TypeConfig | undefined {
    return this.hosted.byType.get(type);
  }

  isActive(type: string, id: string): boolean {
    const a = this.active.get(key(type, id));
    return a !== undefined && !a.deactivating;
  }

  counts(): Array<{ type: string; count: number }> {
    const by = new Map<string, number>(this.hosted.types.map((t) => [t, 0]));
    for (const a of this.active.values()) by.set(a.type, (by.get(a.type) ?? 0) + 1);
    return [...by].map(([type, count]) => ({ type, count }));
  }

  activeActors(): Array<{ type: string; id: string }> {
    return [...this.active.values()].map((a) => ({ type: a.type, id: a.id }));
  }

  private activate(type: string, id: string): ActiveActor {
    const k = key(type, id);
    let a = this.active.get(k);
    if (!a || a.deactivating) {
      a = new ActiveActor(type, id);
      this.active.set(k, a);
    }
    return a;
  }

  /**
   * Runs one method call in the actor's turn (activating it), `method` may be `remind/x`, `timer/x`.
   * `turn` is the policy for the app call once the turn is held (the actor's timeout, as Dapr's
   * post-lock policy): the wait for the turn is not limited by it.
   */
  async call(type: string, id: string, method: string, input: CallInput, signal?: AbortSignal, turn?: CallPolicy): Promise<CallResult> {
    const cfg = this.hosted.byType.get(type);
    if (!cfg || this.closed) throw new DaprError('actorInvokeMethod', `error invoke actor method: actor type ${type} is not hosted by this app`);
    const actor = this.activate(type, id);
    let chain = header(input.headers, REENTRANCY_HEADER);
    const headers = { ...input.headers };
    if (cfg.reentrancy.enabled) {
      chain ??= randomUUID();
      headers[REENTRANCY_HEADER] = chain;
    } else {
      chain = undefined;
    }
    actor.pending++;
    try {
      const release = await actor.lock.acquire(chain, cfg.reentrancy.maxStackDepth);
      try {
        if (signal?.aborted) throw signal.reason ?? new Error('aborted');
        actor.lastUsed = Date.now();
        const path = appPath(type, id, method) + (input.query ? `?${input.query}` : '');
        if (!turn) return await this.appCall('PUT', path, headers, input.body, signal);
        return await turn.run((s) => this.appCall('PUT', path, headers, input.body, s), signal ? { signal } : undefined);
      } finally {
        actor.lastUsed = Date.now();
        release();
      }
    } finally {
      actor.pending--;
    }
  }

  private async appCall(method: string, path: string, headers: Record<string, string | string[]>, body: Buffer | null, signal?: AbortSignal): Promise<CallResult> {
    // The app must start answering within the call timeout (undici's headers timeout: no timer
    // of our own per call); a policy's signal may end it sooner.
    try {
      const res = await this.app.call({ method, path, headers, body, headersTimeout: this.callTimeoutMs, ...(signal ? { signal } : {}) });
      const buf = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, headers: res.headers, body: buf };
    } catch (err) {
      if ((err as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT') throw new DaprError('actorInvokeMethod', `error invoke actor method: app call ${method} ${path} timed out after ${this.callTimeoutMs}ms`, { cause: err });
      throw err;
    }
  }

  /** Waits for in-flight calls (up to the type's drain timeout), then tells the app. */
  async deactivate(type: string, id: string, why: string): Promise<void> {
    const a = this.active.get(key(type, id));
    if (!a || a.deactivating) return;
    a.deactivating = true;
    for (const t of a.timers.values()) clearTimeout(t.handle);
    a.timers.clear();
    const drainMs = this.hosted.byType.get(type)?.drainOngoingCallTimeoutMs ?? 2_000;
    if (!(await a.lock.whenIdle(drainMs))) this.logger.warn(`actors: ${type}/${id} still busy after ${drainMs}ms drain; deactivating anyway`);
    if (this.active.get(key(type, id)) === a) this.active.delete(key(type, id));
    try {
      const res = await this.appCall('DELETE', appPath(type, id), {}, null);
      this.metrics.deactivated?.(type, res.status === 200);
      if (res.status !== 200) this.logger.warn(`actors: deactivation of ${type}/${id} (${why}) answered ${res.status}`);
      else this.logger.debug(`actors: deactivated ${type}/${id} (${why})`);
    } catch (err) {
      this.metrics.deactivated?.(type, false);
      this.logger.warn(`actors: deactivation of ${type}/${id} failed: ${(err as Error).message}`);
    }
  }

  private deactivateIdle(): void {
    const now = Date.now();
    for (const a of this.active.values()) {
      const idle = this.hosted.byType.get(a.type)?.idleTimeoutMs ?? 3_600_000;
      if (!a.deactivating && a.lock.isIdle && now - a.lastUsed >= idle) void this.deactivate(a.type, a.id, 'idle');
    }
  }

  /** Per actor type: calls pending on the turn locks, and active timers. */
  gauges(): { pendingCalls: Map<string, number>; timers: Map<string, number> } {
    const pendingCalls = new Map<string, number>();
    const timers = new Map<string, number>();
    for (const type of this.hosted.types) {
      pendingCalls.set(type, 0);
      timers.set(type, 0);
    }
    for (const a of this.active.values()) {
      pendingCalls.set(a.type, (pendingCalls.get(a.type) ?? 0) + a.pending);
      timers.set(a.type, (timers.get(a.type) ?? 0) + a.timers.size);
    }
    return { pendingCalls, timers };
  }

  /** Deactivates every active actor that `stillMine` no longer claims (placement changed). */
  rebalance(stillMine: (type: string, id: string) => boolean): void {
    for (const a of [...this.active.values()]) {
      if (!a.deactivating && !stillMine(a.type, a.id)) {
        this.metrics.rebalanced?.(a.type);
        void this.deactivate(a.type, a.id, 'rebalanced');
      }
    }
  }

  createTimer(type: string, id: string, name: string, schedule: Schedule, body: string): void {
    const a = this.activate(type, id);
    const old = a.timers.get(name);
    if (old) clearTimeout(old.handle);
    const t: TimerEntry = { name, handle: undefined, schedule, left: schedule.repetitions, body };
    a.timers.set(name, t);
    this.arm(a, t, schedule.firstAt);
  }

  deleteTimer(type: string, id: string, name: string): void {
    const a = this.active.get(key(type, id));
    const t = a?.timers.get(name);
    if (!a || !t) return;
    clearTimeout(t.handle);
    a.timers.delete(name);
  }

  private arm(a: ActiveActor, t: TimerEntry, at: number): void {
    if (t.schedule.expiresAt !== undefined && at > t.schedule.expiresAt) {
      a.timers.delete(t.name);
      return;
    }
    t.handle = setTimeout(() => void this.fireTimer(a, t, at), Math.max(0, at - Date.now()));
    t.handle.unref();
  }

  private async fireTimer(a: ActiveActor, t: TimerEntry, at: number): Promise<void> {
    if (a.timers.get(t.name) !== t || a.deactivating) return;
    if (t.left > 0) t.left--;
    let cancel = false;
    try {
      const res = await this.call(a.type, a.id, `timer/${t.name}`, { headers: { 'content-type': 'application/json' }, body: Buffer.from(t.body), query: '' });
      this.metrics.timerFired?.(a.type, res.status === 200);
      cancel = isTruthy(res.headers[REMINDER_CANCEL_HEADER]);
      if (res.status !== 200) this.logger.warn(`actors: timer ${t.name} of ${a.type}/${a.id} answered ${res.status}`);
    } catch (err) {
      this.metrics.timerFired?.(a.type, false);
      this.logger.warn(`actors: timer ${t.name} of ${a.type}/${a.id} failed: ${(err as Error).message}`);
    }
    if (a.timers.get(t.name) !== t) return;
    const next = cancel ? undefined : nextFire(t.schedule, Math.max(at, Date.now() - (t.schedule.periodMs ?? 0)), t.left);
    if (next === undefined) a.timers.delete(t.name);
    else this.arm(a, t, next);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.scan) clearInterval(this.scan);
    for (const a of this.active.values()) for (const t of a.timers.values()) clearTimeout(t.handle);
  }
}

function key(type: string, id: string): string {
  return `${type}||${id}`;
}

export function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

export function isTruthy(v: string | string[] | undefined): boolean {
  const s = (Array.isArray(v) ? v[0] : v)?.trim().toLowerCase();
  return s === 'true' || s === '1' || s === 'yes' || s === 'y' || s === 'on';
}
