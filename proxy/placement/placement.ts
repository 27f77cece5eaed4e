// Actor placement over a membership table: the owner of (type, id) is the live host serving
// that type with the highest rendezvous score hash(host, type, id), so when a host joins or
// leaves only the actors it wins or held move (about 1/N of them). Every sidecar reads the
// same table and computes the same owner; no placement daemon. Hosts renew their row every
// third of the lease and re-read the table every `refreshMs`.
import type { ActorPeer, ActorPlacement } from '../../core/actors/placement.js';
import type { Logger } from '../../core/component.js';
import type { Member, MembershipStore } from './membership.js';

export class Placement implements ActorPlacement {
  private members: Member[] = [];
  private byType = new Map<string, Member[]>();
  private signature = '';
  version = 0;
  connected = false;
  private self: Member;
  private joined = false;
  private renewing = false;
  private timers: NodeJS.Timeout[] = [];
  private readonly listeners: Array<() => void> = [];
  private refreshing: Promise<void> | undefined;
  private closed = false;

  private storeInstance: MembershipStore | undefined;
  private watching: Promise<void> | undefined;
  private readonly parts = new Map<string, readonly string[]>();
  /** Joins and withdrawals one after the other: two parts may change their types at once. */
  private hosting: Promise<void> = Promise.resolve();

  constructor(
    /** Built on first use: a sidecar whose app hosts no actors and calls none never connects. */
    private readonly openStore: () => MembershipStore,
    address: { host: string; port: number },
    appId: string,
    namespace: string,
    private readonly logger: Logger,
  ) {
    const id = `${address.host}:${address.port}`;
    this.self = { id, appId, namespace, host: address.host, port: address.port, types: [] };
  }

  private get store(): MembershipStore {
    this.storeInstance ??= this.openStore();
    return this.storeInstance;
  }

  get settleMs(): number {
    return this.store.leaseMs + 3 * this.store.refreshMs + 3_000;
  }

  // Every live host re-reads the table within refreshMs and lets go of what moved away.
  get handoverMs(): number {
    return 2 * this.store.refreshMs + 250;
  }

  start(types: readonly string[]): Promise<void> {
    return this.host('actors', types);
  }

  host(part: string, types: readonly string[]): Promise<void> {
    this.parts.set(part, [...types]);
    const run = this.hosting.then(() => this.apply());
    this.hosting = run.catch(() => undefined);
    return run;
  }

  /** Joins with the union of the parts' types; called again it updates or withdraws the row. */
  private async apply(): Promise<void> {
    const types = [...new Set([...this.parts.values()].flat())];
    if (this.joined && types.join(',') === this.self.types.join(',')) return;
    this.self = { ...this.self, types };
    if (types.length > 0) {
      await this.store.announce(this.self);
      this.logger.info(`actors: joined placement (${this.store.name}) as ${this.self.id} hosting ${types.join(', ')}`);
      if (!this.renewing && this.store.leaseMs > 0) {
        this.renewing = true;
        this.every(Math.max(100, Math.floor(this.store.leaseMs / 3)), () => (this.joined ? this.store.announce(this.self) : Promise.resolve()));
      }
      const first = !this.joined;
      this.joined = true;
      await this.watch();
      if (!first) await this.refresh();
    } else if (this.joined) {
      this.joined = false;
      await this.store.withdraw(this.self);
      await this.refresh();
    }
  }

  /** Reads the table now and keeps it fresh from then on (hosts at start, callers on their first call). */
  watch(): Promise<void> {
    this.watching ??= this.refresh()
      .catch((err: Error) => this.logger.warn(`actors: placement (${this.store.name}): ${err.message}`))
      .finally(() => this.every(this.store.refreshMs, () => this.refresh()));
    return this.watching;
  }

  private every(ms: number, fn: () => Promise<void>): void {
    const tick = (): void => {
      const t = setTimeout(() => {
        if (this.closed) return;
        fn().then(tick, (err: Error) => {
          this.logger.warn(`actors: placement (${this.store.name}): ${err.message}`);
          tick();
        });
      }, ms);
      t.unref();
      this.timers.push(t);
      if (this.timers.length > 8) this.timers.splice(0, this.timers.length - 8);
    };
    tick();
  }

  refresh(): Promise<void> {
    this.refreshing ??= this.read().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async read(): Promise<void> {
    let table: { members: Member[]; version: number };
    try {
      table = await this.store.list();
      this.connected = true;
    } catch (err) {
      this.connected = false;
      throw err;
    }
    const members = table.members.filter((m) => m.id !== this.self.id);
    if (this.joined) members.push(this.self);
    members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const signature = members.map((m) => `${m.id}=${m.types.join(',')}`).join(';');
    if (signature === this.signature) return;
    const first = this.signature === '';
    this.signature = signature;
    this.members = members;
    const byType = new Map<string, Member[]>();
    for (const m of members) for (const t of m.types) (byType.get(t) ?? byType.set(t, []).get(t)!).push(m);
    this.byType = byType;
    this.version = Math.max(this.version + 1, table.version);
    this.logger.info(`actors: placement table v${this.version}: ${members.length} host(s) ${members.map((m) => m.id).join(', ')}`);
    if (!first) for (const fn of this.listeners) fn();
  }

  lookup(type: string, id: string): ActorPeer | 'local' | undefined {
    const hosts = this.byType.get(type);
    if (!hosts || hosts.length === 0) return undefined;
    let best = hosts[0]!;
    let bestScore = -1;
    for (const h of hosts) {
      const score = rendezvous(h.id, type, id);
      if (score > bestScore || (score === bestScore && h.id < best.id)) {
        best = h;
        bestScore = score;
      }
    }
    return best.id === this.self.id && this.joined ? 'local' : best;
  }

  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  /** Host ids in the current table (for metadata and tests). */
  hosts(): string[] {
    return this.members.map((m) => m.id);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    if (!this.storeInstance) return;
    if (this.joined) await this.storeInstance.withdraw(this.self).catch(() => undefined);
    await this.storeInstance.close();
  }
}

/** A 32-bit FNV-1a of host, type and id, mixed once more (murmur3 finaliser) for spread. */
function rendezvous(host: string, type: string, id: string): number {
  let h = 0x811c9dc5;
  const feed = (s: string): void => {
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    h ^= 0xff;
    h = Math.imul(h, 0x01000193);
  };
  feed(host);
  feed(type);
  feed(id);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
