// Pure actor logic: /dapr/config decoding with Dapr's defaults, reminder time formats, the turn
// lock with and without reentrancy, and rendezvous placement moving only ~1/N actors.
import { describe, expect, it } from 'vitest';
import { parseActorConfig } from '../../core/actors/config.js';
import { parseIsoDuration, parseSchedule } from '../../core/actors/reminder-time.js';
import { TurnLock } from '../../core/actors/turn-lock.js';
import type { Logger } from '../../core/component.js';
import type { Member, MembershipStore } from '../../proxy/placement/membership.js';
import { Placement } from '../../proxy/placement/placement.js';

const warnings: string[] = [];
const logger: Logger = { debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error() {}, child: () => logger };

describe('/dapr/config', () => {
  it('applies Dapr defaults, Go durations and entitiesConfig overrides', () => {
    const h = parseActorConfig(
      {
        entities: ['A', 'B'],
        actorIdleTimeout: '1h30m',
        reentrancy: { enabled: true },
        entitiesConfig: [{ entities: ['B'], actorIdleTimeout: '5m', drainOngoingCallTimeout: '10s', drainRebalancedActors: false, reentrancy: { enabled: false } }, { entities: ['C'] }],
      },
      logger,
    );
    expect(h.types).toEqual(['A', 'B']);
    expect(h.byType.get('A')).toEqual({ idleTimeoutMs: 5_400_000, drainOngoingCallTimeoutMs: 2_000, drainRebalancedActors: true, reentrancy: { enabled: true, maxStackDepth: 32 } });
    expect(h.byType.get('B')).toEqual({ idleTimeoutMs: 300_000, drainOngoingCallTimeoutMs: 10_000, drainRebalancedActors: false, reentrancy: { enabled: false, maxStackDepth: 32 } });
    expect(h.byType.has('C')).toBe(false);
    expect(warnings.some((w) => w.includes('C'))).toBe(true);
  });

  it('falls back to the default on an invalid duration, and hosts nothing on a non-object', () => {
    warnings.length = 0;
    expect(parseActorConfig({ entities: ['A'], actorIdleTimeout: '3 days' }, logger).byType.get('A')!.idleTimeoutMs).toBe(3_600_000);
    expect(warnings[0]).toContain('actorIdleTimeout');
    expect(parseActorConfig('nope', logger).types).toEqual([]);
  });
});

describe('reminder times', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('reads Go durations, RFC 3339 times and ISO 8601 durations for dueTime', () => {
    expect(parseSchedule({ dueTime: '0h0m3s0ms' }, now, 'actorReminderCreate').firstAt).toBe(now + 3000);
    expect(parseSchedule({ dueTime: 'PT10S' }, now, 'actorReminderCreate').firstAt).toBe(now + 10_000);
    expect(parseSchedule({ dueTime: '2026-01-01T00:01:00Z' }, now, 'actorReminderCreate').firstAt).toBe(now + 60_000);
    expect(parseSchedule({ dueTime: '0' }, now, 'actorReminderCreate').firstAt).toBe(now);
    expect(parseIsoDuration('P1DT2H')).toBe(26 * 3_600_000);
  });

  it('reads periods with repetitions and ttl, one-shot without a period', () => {
    expect(parseSchedule({ period: 'R5/PT10S' }, now, 'actorReminderCreate')).toMatchObject({ periodMs: 10_000, repetitions: 5 });
    expect(parseSchedule({ period: '1m' }, now, 'actorReminderCreate')).toMatchObject({ periodMs: 60_000, repetitions: -1 });
    expect(parseSchedule({}, now, 'actorReminderCreate')).toMatchObject({ periodMs: undefined, repetitions: 1 });
    expect(parseSchedule({ dueTime: '1s', period: '1s', ttl: '10s' }, now, 'actorReminderCreate').expiresAt).toBe(now + 11_000);
    expect(parseSchedule({ ttl: '2026-01-02T00:00:00Z' }, now, 'actorReminderCreate').expiresAt).toBe(now + 86_400_000);
  });

  it('names the malformed field', () => {
    expect(() => parseSchedule({ dueTime: 'later' }, now, 'actorReminderCreate')).toThrow(/dueTime/);
    expect(() => parseSchedule({ period: 'R2/10s' }, now, 'actorReminderCreate')).toThrow(/period/);
    expect(() => parseSchedule({ ttl: 'x' }, now, 'actorReminderCreate')).toThrow(/ttl/);
  });
});

describe('turn lock', () => {
  it('queues calls in arrival order', async () => {
    const lock = new TurnLock();
    const order: number[] = [];
    const first = await lock.acquire(undefined, 32);
    const waits = [1, 2, 3].map((n) => lock.acquire(undefined, 32).then((release) => (order.push(n), release())));
    expect(lock.pending).toBe(4);
    first();
    await Promise.all(waits);
    expect(order).toEqual([1, 2, 3]);
    expect(lock.isIdle).toBe(true);
  });

  it('lets the holding reentrancy chain in up to maxStackDepth, others wait', async () => {
    const lock = new TurnLock();
    const outer = await lock.acquire('chain-1', 2);
    const inner = await lock.acquire('chain-1', 2);
    await expect(lock.acquire('chain-1', 2)).rejects.toMatchObject({ code: 'ERR_ACTOR_STACK_DEPTH' });
    let otherIn = false;
    const other = lock.acquire('chain-2', 2).then((r) => ((otherIn = true), r));
    inner();
    await Promise.resolve();
    expect(otherIn).toBe(false);
    outer();
    (await other)();
    expect(otherIn).toBe(true);
  });
});

describe('rendezvous placement', () => {
  class FixedStore implements MembershipStore {
    readonly name = 'fixed';
    readonly leaseMs = 0;
    readonly refreshMs = 1_000_000;
    constructor(public members: Member[]) {}
    async announce(): Promise<void> {}
    async list(): Promise<{ members: Member[]; version: number }> {
      return { members: this.members, version: 1 };
    }
    async withdraw(): Promise<void> {}
    async close(): Promise<void> {}
  }
  const member = (n: number): Member => ({ id: `10.0.0.${n}:5000`, appId: 'a', namespace: 'default', host: `10.0.0.${n}`, port: 5000, types: ['T'] });

  it('moves only the actors the new host wins when a host joins', async () => {
    const store = new FixedStore([1, 2, 3, 4].map(member));
    const p = new Placement(() => store, { host: '10.0.0.99', port: 1 }, 'caller', 'default', logger);
    await p.watch();
    const ids = Array.from({ length: 4000 }, (_, i) => `actor-${i}`);
    const before = ids.map((id) => (p.lookup('T', id) as Member).id);
    const counts = new Map<string, number>();
    for (const h of before) counts.set(h, (counts.get(h) ?? 0) + 1);
    for (const c of counts.values()) expect(c).toBeGreaterThan(800); // ~1000 each
    store.members = [1, 2, 3, 4, 5].map(member);
    await p.refresh();
    const after = ids.map((id) => (p.lookup('T', id) as Member).id);
    const moved = ids.filter((_, i) => before[i] !== after[i]);
    expect(moved.every((id) => (p.lookup('T', id) as Member).id === member(5).id)).toBe(true);
    expect(moved.length).toBeGreaterThan(600); // ~1/5 of 4000
    expect(moved.length).toBeLessThan(1000);
    expect(p.lookup('Other', 'x')).toBeUndefined();
    await p.close();
  });
});
