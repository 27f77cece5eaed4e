// Durable reminders. All reminders of one type live under the actor state store key
// `actors||<type>` as a JSON array (the layout of Dapr's state-store reminders), updated with
// ETags so concurrent writers never lose each other's changes. Each host polls the types it
// hosts and arms the reminders of the actors placement gives it. Before firing, a host claims
// the due fire by advancing `nextFireTime` under the ETag: of two hosts that briefly both
// believe they own an actor, only one wins the claim, so a fire happens on exactly one host
// (at most once: a host that dies between claim and fire loses that one fire).
//
// A reminder with a `failure_policy` is retried when a fire fails (the app answers other than
// 200 or cannot be reached): the claim already schedules the retry (`retry` holds the attempt and
// the regular fire to resume), and a successful fire puts the regular schedule back. A host that
// dies mid-fire therefore leaves the retry in the store, so such reminders are at least once.
import type { Logger } from '../component.js';
import { DaprError } from '../errors.js';
import { failureRetryDelay, type FailurePolicy } from '../failure-policy.js';
import { ETagError } from '../state/component.js';
import type { StoreHandle } from '../state/store-handle.js';
import type { Schedule } from './reminder-time.js';
import { nextFire } from './reminder-time.js';

export interface StoredReminder {
  actorID: string;
  actorType: string;
  name: string;
  data?: unknown;
  dueTime: string;
  period: string;
  ttl?: string;
  registeredTime: string;
  /** RFC 3339; absent when it never expires. */
  expirationTime?: string;
  /** bulwark's progress: the next due fire (RFC 3339) and fires left (-1: no limit). */
  nextFireTime: string;
  repetitionsLeft: number;
  schedule: { firstAt: number; periodMs?: number; repetitions: number; expiresAt?: number };
  failurePolicy?: FailurePolicy;
  /** Set while a retry is scheduled: retries so far, and the regular fire (epoch ms) to resume. */
  retry?: { attempt: number; resumeAt?: number };
}

export interface ReminderFirer {
  /** Whether this host owns the actor now. */
  owns(type: string, id: string): boolean;
  /** Fires into the app: whether it answered 200, and whether it asked to cancel. Throws when unreachable. */
  fire(r: StoredReminder): Promise<{ ok: boolean; cancel: boolean }>;
}

const MAX_CAS = 20;

export class Reminders {
  private readonly armed = new Map<string, { at: number; handle: NodeJS.Timeout }>();
  /** Reminders being fired on this host: a retry that falls due meanwhile waits for the outcome. */
  private readonly firing = new Set<string>();
  private poll: NodeJS.Timeout | undefined;
  private types: readonly string[] = [];
  private syncing: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly store: StoreHandle,
    private readonly logger: Logger,
    private readonly firer: ReminderFirer,
    private readonly pollMs = 1_000,
  ) {}

  /** Reminders armed on this host, per actor type. */
  armedByType(): Map<string, number> {
    const by = new Map<string, number>(this.types.map((t) => [t, 0]));
    for (const k of this.armed.keys()) {
      const type = k.slice(0, k.indexOf('||'));
      by.set(type, (by.get(type) ?? 0) + 1);
    }
    return by;
  }

  private storeKey(type: string): string {
    return `actors||${type}`;
  }

  private async read(type: string): Promise<{ list: StoredReminder[]; etag: string | undefined }> {
    const r = await this.store.get({ key: this.storeKey(type), metadata: {} });
    if (!r) return { list: [], etag: undefined };
    const text = typeof r.data === 'string' ? r.data : Buffer.from(r.data).toString('utf8');
    const v = JSON.parse(text) as unknown;
    return { list: Array.isArray(v) ? (v as StoredReminder[]) : [], etag: r.etag };
  }

  /** Read-modify-write under the ETag, retried on conflicts. `change` returns false for "no write". */
  private async update<T>(type: string, change: (list: StoredReminder[]) => { write: boolean; result: T }): Promise<T> {
    for (let i = 0; ; i++) {
      const { list, etag } = await this.read(type);
      const { write, result } = change(list);
      if (!write) return result;
      try {
        await this.store.set({ key: this.storeKey(type), value: JSON.stringify(list), etag, metadata: {}, options: { concurrency: 'first-write' } });
        return result;
      } catch (err) {
        if (!(err instanceof ETagError) || i >= MAX_CAS) throw err;
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
      }
    }
  }

  async create(r: Omit<StoredReminder, 'nextFireTime' | 'repetitionsLeft' | 'schedule' | 'registeredTime'>, s: Schedule, overwrite: boolean): Promise<void> {
    const stored: StoredReminder = {
      ...r,
      registeredTime: new Date().toISOString(),
      ...(s.expiresAt !== undefined ? { expirationTime: new Date(s.expiresAt).toISOString() } : {}),
      nextFireTime: new Date(s.firstAt).toISOString(),
      repetitionsLeft: s.repetitions,
      schedule: { firstAt: s.firstAt, repetitions: s.repetitions, ...(s.periodMs !== undefined ? { periodMs: s.periodMs } : {}), ...(s.expiresAt !== undefined ? { expiresAt: s.expiresAt } : {}) },
    };
    await this.update(r.actorType, (list) => {
      const i = list.findIndex((x) => x.actorID === r.actorID && x.name === r.name);
      if (i >= 0 && !overwrite) throw new DaprError('actorReminderExists', `reminder ${r.name} already exists for actor ${r.actorType}/${r.actorID}`);
      if (i >= 0) list[i] = stored;
      else list.push(stored);
      return { write: true, result: undefined };
    });
    this.kick();
  }

  async get(type: string, id: string, name: string): Promise<StoredReminder | undefined> {
    const { list } = await this.read(type);
    return list.find((x) => x.actorID === id && x.name === name);
  }

  async delete(type: string, id: string, name: string): Promise<void> {
    await this.update(type, (list) => {
      const i = list.findIndex((x) => x.actorID === id && x.name === name);
      if (i < 0) return { write: false, result: undefined };
      list.splice(i, 1);
      return { write: true, result: undefined };
    });
    this.disarm(`${type}||${id}||${name}`);
  }

  /** Starts polling the hosted types. */
  start(types: readonly string[]): void {
    const running = this.types.length > 0;
    this.types = types;
    if (running || types.length === 0) return this.kick();
    const tick = (): void => {
      this.poll = setTimeout(() => void this.sync().finally(() => !this.closed && tick()), this.pollMs);
      this.poll.unref();
    };
    void this.sync().finally(tick);
  }

  /** Re-reads now (after a local change or a placement change). */
  kick(): void {
    if (this.types.length > 0) void this.sync();
  }

  private sync(): Promise<void> {
    this.syncing ??= this.syncAll().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async syncAll(): Promise<void> {
    const seen = new Set<string>();
    for (const type of this.types) {
      let list: StoredReminder[];
      try {
        ({ list } = await this.read(type));
      } catch (err) {
        this.logger.warn(`actors: reading reminders of ${type} failed: ${(err as Error).message}`);
        for (const k of this.armed.keys()) if (k.startsWith(`${type}||`)) seen.add(k);
        continue;
      }
      for (const r of list) {
        const k = `${type}||${r.actorID}||${r.name}`;
        if (!this.firer.owns(type, r.actorID)) continue;
        seen.add(k);
        const at = Date.parse(r.nextFireTime);
        const cur = this.armed.get(k);
        if (cur && cur.at === at) continue;
        if (cur) clearTimeout(cur.handle);
        const handle = setTimeout(() => void this.due(type, r.actorID, r.name, at), Math.max(0, at - Date.now()));
        handle.unref();
        this.armed.set(k, { at, handle });
      }
    }
    for (const k of [...this.armed.keys()]) if (!seen.has(k)) this.disarm(k);
  }

  private disarm(k: string): void {
    const cur = this.armed.get(k);
    if (cur) clearTimeout(cur.handle);
    this.armed.delete(k);
  }

  /**
   * Claims the fire due at `at` (advancing the stored schedule, or scheduling the retry when the
   * reminder has a failure policy that allows one), fires it, then settles the retry.
   */
  private async due(type: string, id: string, name: string, at: number): Promise<void> {
    const k = `${type}||${id}||${name}`;
    if (this.closed || !this.firer.owns(type, id)) return;
    // Still firing here: forget this timer; the kick after that fire re-arms from the store.
    if (this.firing.has(k)) return void this.armed.delete(k);
    let claimed: { r: StoredReminder; regular: RegularNext; retryAt: number | undefined } | undefined;
    try {
      claimed = await this.update(type, (list) => {
        const i = list.findIndex((x) => x.actorID === id && x.name === name);
        const r = list[i];
        if (!r || Date.parse(r.nextFireTime) !== at) return { write: false, result: undefined };
        const regular = regularNext(r, at);
        const attempt = r.retry?.attempt ?? 0;
        const delay = r.failurePolicy ? failureRetryDelay(r.failurePolicy, attempt) : undefined;
        const retryAt = delay === undefined ? undefined : Math.max(Date.now() + delay, at + 1);
        if (retryAt !== undefined) list[i] = { ...r, nextFireTime: new Date(retryAt).toISOString(), repetitionsLeft: regular.left, retry: { attempt: attempt + 1, ...(regular.at !== undefined ? { resumeAt: regular.at } : {}) } };
        else if (regular.at === undefined) list.splice(i, 1);
        else list[i] = withRegular(r, regular);
        return { write: true, result: { r: { ...r }, regular, retryAt } };
      });
    } catch (err) {
      this.logger.warn(`actors: claiming reminder ${name} of ${type}/${id} failed: ${(err as Error).message}`);
    }
    this.armed.delete(k);
    if (!claimed) return void this.kick();
    this.firing.add(k);
    let outcome = { ok: false, cancel: false };
    try {
      outcome = await this.firer.fire(claimed.r);
    } catch (err) {
      this.logger.warn(`actors: reminder ${name} of ${type}/${id} failed: ${(err as Error).message}`);
    } finally {
      this.firing.delete(k);
    }
    if (outcome.cancel) await this.delete(type, id, name).catch((err: Error) => this.logger.warn(`actors: cancelling reminder ${name} failed: ${err.message}`));
    else if (claimed.retryAt !== undefined) await this.settle(type, id, name, claimed, outcome.ok);
    this.kick();
  }

  /** After a fire that had a retry scheduled: success resumes the regular schedule, failure re-times the retry from now. */
  private async settle(type: string, id: string, name: string, c: { r: StoredReminder; regular: RegularNext; retryAt: number | undefined }, ok: boolean): Promise<void> {
    const retryIso = new Date(c.retryAt!).toISOString();
    const delay = ok ? 0 : failureRetryDelay(c.r.failurePolicy!, c.r.retry?.attempt ?? 0)!;
    await this.update(type, (list) => {
      const i = list.findIndex((x) => x.actorID === id && x.name === name);
      const r = list[i];
      // Deleted, overwritten or already retried meanwhile: leave it.
      if (!r || r.nextFireTime !== retryIso || !r.retry) return { write: false, result: undefined };
      if (!ok) list[i] = { ...r, nextFireTime: new Date(Math.max(Date.now() + delay, c.retryAt!)).toISOString() };
      else if (c.regular.at === undefined) list.splice(i, 1);
      else list[i] = withRegular(r, c.regular);
      return { write: true, result: undefined };
    }).catch((err: Error) => this.logger.warn(`actors: updating reminder ${name} of ${type}/${id} after its fire failed: ${err.message}`));
  }

  close(): void {
    this.closed = true;
    if (this.poll) clearTimeout(this.poll);
    for (const k of [...this.armed.keys()]) this.disarm(k);
  }
}

interface RegularNext {
  /** The next regular fire (epoch ms), undefined when this was the last. */
  at: number | undefined;
  left: number;
}

/** Where the regular schedule goes after the fire due at `at` (a retry resumes where its first attempt left it). */
function regularNext(r: StoredReminder, at: number): RegularNext {
  if (r.retry) return { at: r.retry.resumeAt, left: r.repetitionsLeft };
  const left = r.repetitionsLeft > 0 ? r.repetitionsLeft - 1 : r.repetitionsLeft;
  const s = { firstAt: r.schedule.firstAt, periodMs: r.schedule.periodMs, repetitions: r.schedule.repetitions, expiresAt: r.schedule.expiresAt };
  // A host that was down for several periods fires once now, then keeps the period.
  return { at: nextFire(s, Math.max(at, Date.now() - (s.periodMs ?? 0)), left), left };
}

function withRegular(r: StoredReminder, n: RegularNext): StoredReminder {
  const { retry: _retry, ...rest } = r;
  return { ...rest, nextFireTime: new Date(n.at!).toISOString(), repetitionsLeft: n.left };
}
