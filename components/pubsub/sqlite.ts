// `pubsub.sqlite`: the embedded durable broker. One SQLite file (WAL) under BULWARK_HOME is
// shared by every sidecar on the machine, so two apps on one machine talk through it and
// messages survive restarts. Consumer groups are keyed by consumerID (default: the app id):
// sidecars with the same consumerID share a topic's messages, different ones each get all.
//
// Each group keeps a cursor (the last message handed out) and a pending list, like a Redis
// stream's PEL: a claimed message is leased to one sidecar until it is acknowledged. A lease
// ends when processingTimeout passes or when its owner stops heartbeating (a kill -9), and the
// message is then claimed again; a rejected message is offered again after redeliverDelay.
// Publishes in the same process wake subscribers at once; other processes' commits wake them
// through a watch on the WAL file, and polling (pollInterval) is the fallback.
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdirSync, watch, type FSWatcher } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { meta, type ComponentContext, type Logger } from '../../core/component.js';
import type { MessageHandler, PublishRequest, PubSub, ReceivedMessage, SubscribeRequest, SubscriptionHandle } from '../../core/pubsub/component.js';
import { parseMetadataDuration } from '../../resources/duration.js';

export interface SqlitePubSubOptions {
  file: string;
  consumerId: string;
  processingTimeoutMs: number;
  redeliverDelayMs: number;
  pollIntervalMs: number;
  concurrency: number;
  retentionMs: number;
  heartbeatMs: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS pubsub_messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  topic TEXT NOT NULL,
  data BLOB NOT NULL,
  content_type TEXT,
  metadata TEXT,
  published_at INTEGER NOT NULL,
  expires_at INTEGER
);
CREATE INDEX IF NOT EXISTS pubsub_messages_topic ON pubsub_messages (topic, seq);
CREATE TABLE IF NOT EXISTS pubsub_groups (
  topic TEXT NOT NULL,
  group_id TEXT NOT NULL,
  cursor INTEGER NOT NULL,
  PRIMARY KEY (topic, group_id)
);
CREATE TABLE IF NOT EXISTS pubsub_pending (
  group_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  seq INTEGER NOT NULL,
  owner TEXT NOT NULL,
  lease_until INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  PRIMARY KEY (group_id, topic, seq)
);
CREATE TABLE IF NOT EXISTS pubsub_consumers (
  owner TEXT PRIMARY KEY,
  last_seen INTEGER NOT NULL
);
`;

interface Row {
  seq: number;
  data: Buffer;
  content_type: string | null;
  metadata: string | null;
  expires_at: number | null;
}

const GC_EVERY_MS = 30_000;
/** Messages in flight per subscription unless `concurrency` says otherwise. */
const DEFAULT_CONCURRENCY = 100;

export class SqlitePubSub implements PubSub {
  readonly features: readonly string[] = [];
  /** This process's identity in lease rows. */
  readonly owner = randomUUID();
  private readonly db: Database.Database;
  private readonly consumers = new Set<Consumer>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly gc: NodeJS.Timeout;
  private readonly doorbell: FSWatcher | undefined;
  private closed = false;
  readonly stmts;

  constructor(
    readonly opts: SqlitePubSubOptions,
    readonly logger: Logger,
  ) {
    mkdirSync(dirname(opts.file), { recursive: true });
    this.db = new Database(opts.file, { timeout: 5000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    const db = this.db;
    this.stmts = {
      insert: db.prepare('INSERT INTO pubsub_messages (topic, data, content_type, metadata, published_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)'),
      ensureGroup: db.prepare('INSERT OR IGNORE INTO pubsub_groups (topic, group_id, cursor) VALUES (?, ?, 0)'),
      cursor: db.prepare('SELECT cursor FROM pubsub_groups WHERE topic = ? AND group_id = ?').pluck(),
      setCursor: db.prepare('UPDATE pubsub_groups SET cursor = ? WHERE topic = ? AND group_id = ?'),
      stale: db.prepare(
        `SELECT seq FROM pubsub_pending WHERE group_id = ? AND topic = ?
           AND (lease_until <= ? OR owner NOT IN (SELECT owner FROM pubsub_consumers WHERE last_seen > ?))
         ORDER BY seq LIMIT ?`,
      ).pluck(),
      takeOver: db.prepare('UPDATE pubsub_pending SET owner = ?, lease_until = ?, attempts = attempts + 1 WHERE group_id = ? AND topic = ? AND seq = ?'),
      fresh: db.prepare('SELECT seq, data, content_type, metadata, expires_at FROM pubsub_messages WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?'),
      anyFresh: db.prepare('SELECT EXISTS (SELECT 1 FROM pubsub_messages WHERE topic = ? AND seq > (SELECT cursor FROM pubsub_groups WHERE topic = ? AND group_id = ?))').pluck(),
      anyStale: db.prepare(
        `SELECT EXISTS (SELECT 1 FROM pubsub_pending WHERE group_id = ? AND topic = ?
           AND (lease_until <= ? OR owner NOT IN (SELECT owner FROM pubsub_consumers WHERE last_seen > ?)))`,
      ).pluck(),
      addPending: db.prepare('INSERT OR REPLACE INTO pubsub_pending (group_id, topic, seq, owner, lease_until, attempts) VALUES (?, ?, ?, ?, ?, 1)'),
      message: db.prepare('SELECT seq, data, content_type, metadata, expires_at FROM pubsub_messages WHERE seq = ?'),
      ack: db.prepare('DELETE FROM pubsub_pending WHERE group_id = ? AND topic = ? AND seq = ?'),
      nack: db.prepare('UPDATE pubsub_pending SET lease_until = ? WHERE group_id = ? AND topic = ? AND seq = ? AND owner = ?'),
      beat: db.prepare('INSERT OR REPLACE INTO pubsub_consumers (owner, last_seen) VALUES (?, ?)'),
      leave: db.prepare('DELETE FROM pubsub_consumers WHERE owner = ?'),
    };
    this.beat();
    this.heartbeat = setInterval(() => this.beat(), opts.heartbeatMs);
    this.heartbeat.unref();
    this.gc = setInterval(() => this.collect(), GC_EVERY_MS);
    this.gc.unref();
    this.collect();
    this.doorbell = this.watchWal();
  }

  /**
   * Every commit, from any process, writes the WAL file: watching it (inotify on Linux) wakes
   * idle subscribers when another sidecar publishes, so polling is only the fallback.
   */
  private watchWal(): FSWatcher | undefined {
    try {
      const w = watch(`${this.opts.file}-wal`, { persistent: false }, () => {
        for (const c of this.consumers) c.wake();
      });
      w.on('error', (err) => {
        this.logger.debug(`sqlite pubsub: watching the WAL file stopped, polling only: ${err.message}`);
        w.close();
      });
      return w;
    } catch (err) {
      this.logger.debug(`sqlite pubsub: cannot watch the WAL file, polling only: ${(err as Error).message}`);
      return undefined;
    }
  }

  private beat(): void {
    if (this.closed) return;
    try {
      this.stmts.beat.run(this.owner, Date.now());
    } catch (err) {
      this.logger.warn(`sqlite pubsub heartbeat failed: ${(err as Error).message}`);
    }
  }

  /** Deletes what no group can still need: acked by every group, or older than retention. */
  private collect(): void {
    if (this.closed) return;
    try {
      const now = Date.now();
      this.db.transaction(() => {
        this.db.prepare('DELETE FROM pubsub_messages WHERE published_at < ?').run(now - this.opts.retentionMs);
        this.db.prepare('DELETE FROM pubsub_messages WHERE expires_at IS NOT NULL AND expires_at < ?').run(now);
        this.db
          .prepare(
            `DELETE FROM pubsub_messages WHERE seq <= (SELECT MIN(g.cursor) FROM pubsub_groups g WHERE g.topic = pubsub_messages.topic)
               AND NOT EXISTS (SELECT 1 FROM pubsub_pending p WHERE p.topic = pubsub_messages.topic AND p.seq = pubsub_messages.seq)`,
          )
          .run();
        this.db.prepare('DELETE FROM pubsub_pending WHERE seq NOT IN (SELECT seq FROM pubsub_messages)').run();
        this.db.prepare('DELETE FROM pubsub_consumers WHERE last_seen < ?').run(now - 3_600_000);
      }).immediate();
    } catch (err) {
      this.logger.warn(`sqlite pubsub cleanup failed: ${(err as Error).message}`);
    }
  }

  private publishes: PendingPublish[] = [];
  private publishFlush: NodeJS.Immediate | undefined;

  /**
   * Publishes in the same turn of the event loop share one transaction: with several processes
   * writing one file, fewer write transactions means less waiting on SQLite's write lock. The
   * promise resolves once the message is committed.
   */
  publish(req: PublishRequest): Promise<void> {
    if (this.closed) return Promise.reject(new Error('pubsub is closed'));
    return new Promise((resolvePublish, rejectPublish) => {
      this.publishes.push({ req, resolve: resolvePublish, reject: rejectPublish });
      this.publishFlush ??= setImmediate(() => this.flushPublishes());
    });
  }

  private flushPublishes(): void {
    this.publishFlush = undefined;
    const batch = this.publishes;
    if (batch.length === 0) return;
    this.publishes = [];
    if (this.closed) {
      for (const p of batch) p.reject(new Error('pubsub is closed'));
      return;
    }
    const now = Date.now();
    try {
      this.db.transaction(() => {
        for (const { req } of batch) {
          const ttl = Number(meta(req.metadata, 'ttlInSeconds'));
          const expires = Number.isFinite(ttl) && ttl > 0 ? now + ttl * 1000 : null;
          this.stmts.insert.run(req.topic, req.data, req.contentType ?? null, JSON.stringify(req.metadata), now, expires);
        }
      }).immediate();
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    for (const p of batch) p.resolve();
    const topics = new Set(batch.map((p) => p.req.topic));
    for (const c of this.consumers) if (topics.has(c.topic)) c.kick();
  }

  async subscribe(req: SubscribeRequest, handler: MessageHandler): Promise<SubscriptionHandle> {
    if (this.closed) throw new Error('pubsub is closed');
    const group = meta(req.metadata, 'consumerID') || this.opts.consumerId;
    this.stmts.ensureGroup.run(req.topic, group);
    const c = new Consumer(this, req.topic, group, handler);
    this.consumers.add(c);
    c.kick();
    return {
      close: async () => {
        this.consumers.delete(c);
        await c.stop();
      },
    };
  }

  /**
   * Leases up to `max` messages for `group` (stale leases first, then new ones) in one
   * transaction; new messages are read with their bodies in the same query.
   */
  claim(topic: string, group: string, max: number, skip: ReadonlySet<number>): Row[] {
    const now = Date.now();
    const lease = now + this.opts.processingTimeoutMs;
    const aliveSince = now - this.opts.heartbeatMs * 5;
    // A read (no write lock in WAL mode) first: idle polling must not queue on the write lock
    // that every sidecar on the machine shares.
    if (!this.stmts.anyFresh.get(topic, topic, group) && !this.stmts.anyStale.get(group, topic, now, aliveSince)) return [];
    const rows = this.db.transaction((): Row[] => {
      const out: Row[] = [];
      const stale = this.stmts.stale.all(group, topic, now, aliveSince, max + skip.size) as number[];
      for (const seq of stale) {
        if (out.length >= max) break;
        if (skip.has(seq)) continue;
        this.stmts.takeOver.run(this.owner, lease, group, topic, seq);
        const row = this.stmts.message.get(seq) as Row | undefined;
        if (row) out.push(row);
        else this.stmts.ack.run(group, topic, seq);
      }
      if (out.length < max) {
        const cursor = this.stmts.cursor.get(topic, group) as number | undefined;
        const fresh = this.stmts.fresh.all(topic, cursor ?? 0, max - out.length) as Row[];
        for (const row of fresh) {
          this.stmts.addPending.run(group, topic, row.seq, this.owner, lease);
          out.push(row);
        }
        if (fresh.length > 0) this.stmts.setCursor.run(fresh[fresh.length - 1]!.seq, topic, group);
      }
      return out;
    }).immediate();
    // Expired while stored: never handed out (acknowledged away in the next ack batch).
    let n = 0;
    for (const row of rows) {
      if (row.expires_at !== null && row.expires_at < now) this.ack(topic, group, row.seq);
      else rows[n++] = row;
    }
    rows.length = n;
    return rows;
  }

  private acks: Array<[string, string, number]> = [];
  private ackFlush: NodeJS.Immediate | undefined;

  /** Acks are batched into one transaction per turn of the event loop (a crash before it only redelivers). */
  ack(topic: string, group: string, seq: number): void {
    if (this.closed) return;
    this.acks.push([group, topic, seq]);
    this.ackFlush ??= setImmediate(() => this.flushAcks());
  }

  private flushAcks(): void {
    this.ackFlush = undefined;
    const batch = this.acks;
    if (batch.length === 0 || this.closed) return;
    this.acks = [];
    try {
      this.db.transaction(() => {
        for (const [g, t, s] of batch) this.stmts.ack.run(g, t, s);
      }).immediate();
    } catch (err) {
      this.logger.warn(`sqlite pubsub: acknowledging ${batch.length} messages failed; they will be redelivered: ${(err as Error).message}`);
    }
  }

  nack(topic: string, group: string, seq: number): void {
    if (!this.closed) this.stmts.nack.run(Date.now() + this.opts.redeliverDelayMs, group, topic, seq, this.owner);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.consumers].map((c) => c.stop()));
    this.consumers.clear();
    if (this.ackFlush) clearImmediate(this.ackFlush);
    this.flushAcks();
    if (this.publishFlush) clearImmediate(this.publishFlush);
    this.flushPublishes();
    clearInterval(this.heartbeat);
    clearInterval(this.gc);
    this.doorbell?.close();
    // Leaving releases this process's leases at once: they belong to a consumer that is gone.
    try {
      this.stmts.leave.run(this.owner);
    } catch {
      // The file may be gone; nothing to release then.
    }
    this.closed = true;
    this.db.close();
  }
}

interface PendingPublish {
  req: PublishRequest;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const STOP_WAIT_MS = 5000;

/**
 * One subscription's delivery loop: keeps up to `concurrency` messages in flight. Slots freed by
 * acks are refilled in batches (one claim transaction per quarter of the window), not one claim
 * per ack, so a busy subscription costs few write transactions on the shared file.
 */
class Consumer {
  private readonly inFlight = new Set<number>();
  private readonly refillAt: number;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private stopped = false;
  private idle: (() => void) | undefined;

  constructor(
    private readonly broker: SqlitePubSub,
    readonly topic: string,
    private readonly group: string,
    private readonly handler: MessageHandler,
  ) {
    this.refillAt = Math.max(1, Math.floor(broker.opts.concurrency / 4));
  }

  kick(): void {
    if (this.stopped || this.immediate) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.tick();
    });
  }

  /** Something was committed to the file: claim now if waiting for the next poll. */
  wake(): void {
    if (this.timer) this.kick();
  }

  private tick(): void {
    if (this.stopped || this.broker.isClosed) return;
    const room = this.broker.opts.concurrency - this.inFlight.size;
    let claimed: Row[] = [];
    if (room > 0) {
      try {
        claimed = this.broker.claim(this.topic, this.group, room, this.inFlight);
      } catch (err) {
        this.broker.logger.warn(`sqlite pubsub: claiming messages of ${this.topic} failed: ${(err as Error).message}`);
      }
      for (const r of claimed) this.dispatch(r);
    }
    if (room <= 0 || claimed.length === room) {
      // The window is full; the next claim happens when enough of it has been acknowledged.
      return;
    }
    // Room left: look again after pollInterval (or sooner, on a commit or an ack), even while
    // slow handlers keep a few messages in flight.
    this.timer = setTimeout(() => this.tick(), this.broker.opts.pollIntervalMs);
  }

  private dispatch(row: Row): void {
    const seq = row.seq;
    this.inFlight.add(seq);
    let metadata: Record<string, string> = {};
    try {
      if (row.metadata && row.metadata !== '{}') metadata = JSON.parse(row.metadata) as Record<string, string>;
    } catch {
      metadata = {};
    }
    const msg: ReceivedMessage = row.content_type
      ? { topic: this.topic, data: row.data, metadata, contentType: row.content_type }
      : { topic: this.topic, data: row.data, metadata };
    this.handler(msg).then(
      () => this.settle(seq, true),
      () => this.settle(seq, false),
    );
  }

  private settle(seq: number, ok: boolean): void {
    this.inFlight.delete(seq);
    try {
      if (ok) this.broker.ack(this.topic, this.group, seq);
      else this.broker.nack(this.topic, this.group, seq);
    } catch (err) {
      this.broker.logger.warn(`sqlite pubsub: ${ok ? 'ack' : 'nack'} of message ${seq} on ${this.topic} failed: ${(err as Error).message}`);
    }
    if (this.stopped) {
      if (this.inFlight.size === 0) this.idle?.();
      return;
    }
    if (this.broker.opts.concurrency - this.inFlight.size >= this.refillAt) this.kick();
  }

  /** Stops claiming; waits a little for messages in flight so they are acked, not redelivered. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    if (this.inFlight.size === 0) return;
    await new Promise<void>((resolveStop) => {
      const t = setTimeout(resolveStop, STOP_WAIT_MS);
      this.idle = () => {
        clearTimeout(t);
        resolveStop();
      };
    });
  }
}

function duration(md: Readonly<Record<string, string>>, key: string, fallback: number): number {
  const v = meta(md, key);
  if (v === undefined || v === '') return fallback;
  const ms = parseMetadataDuration(v);
  if (ms === undefined || ms < 0) throw new Error(`metadata ${key}: ${JSON.stringify(v)} is not a duration`);
  return ms;
}

function positiveInt(md: Readonly<Record<string, string>>, key: string, fallback: number): number {
  const v = meta(md, key);
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`metadata ${key}: ${JSON.stringify(v)} is not a positive integer`);
  return n;
}

export function sqlitePubSubOptions(ctx: Pick<ComponentContext, 'metadata' | 'homeDir' | 'cwd' | 'appId'>): SqlitePubSubOptions {
  const md = ctx.metadata;
  const given = meta(md, 'connectionString', 'path', 'file');
  const file = given ? (isAbsolute(given) ? given : resolve(ctx.cwd, given)) : join(ctx.homeDir, 'pubsub.db');
  return {
    file,
    consumerId: meta(md, 'consumerID')?.trim() || ctx.appId,
    processingTimeoutMs: duration(md, 'processingTimeout', 60_000) || 60_000,
    redeliverDelayMs: duration(md, 'redeliverDelay', 1000),
    pollIntervalMs: Math.max(5, duration(md, 'pollInterval', 50)),
    concurrency: positiveInt(md, 'concurrency', DEFAULT_CONCURRENCY),
    retentionMs: duration(md, 'retentionPeriod', 24 * 3_600_000) || 24 * 3_600_000,
    heartbeatMs: 1000,
  };
}

export async function createSqlitePubSub(ctx: ComponentContext): Promise<PubSub> {
  return new SqlitePubSub(sqlitePubSubOptions(ctx), ctx.logger);
}
