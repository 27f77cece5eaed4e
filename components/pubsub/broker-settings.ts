// Small decoding helpers the networked brokers (redis, jetstream, rabbitmq, mqtt3) share:
// consumerID defaulting, weakly typed numbers and the "broker is down" error wording.
import { meta, type ComponentContext } from '../../core/component.js';
import type { BulkPublishEntry, BulkPublishFailure, PubSub } from '../../core/pubsub/component.js';

/** consumerID as Dapr's runtime fills it: blank means the app id. */
export function consumerIdOf(ctx: ComponentContext): string {
  const v = meta(ctx.metadata, 'consumerID')?.trim();
  return v ? v : ctx.appId;
}

/** A weakly typed integer (Dapr decodes "10" into an int field); `fallback` when absent. */
export function intSetting(md: Readonly<Record<string, string>>, name: string, fallback: number, component: string): number {
  const raw = meta(md, name)?.trim();
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new Error(`${component}: metadata "${name}" must be an integer, got "${raw}"`);
  return n;
}

/** The error every broker throws when a publish finds the broker unreachable. */
export function brokerDownError(component: string, where: string, topic: string, cause?: unknown): Error {
  const why = cause instanceof Error ? `: ${cause.message}` : '';
  return new Error(`${component}: cannot publish to topic "${topic}": broker at ${where} is unreachable${why}`, { cause });
}

/**
 * The second chance of a native bulk publish: entries the batch did not get accepted go once more
 * through the broker's single publish (which reconnects or redeclares what it needs); what fails
 * again is reported per entry.
 */
export async function publishEach(broker: PubSub, topic: string, entries: readonly BulkPublishEntry[]): Promise<BulkPublishFailure[]> {
  const out: BulkPublishFailure[] = [];
  await Promise.all(
    entries.map((e) =>
      broker.publish({ topic, ...e }).catch((error: unknown) => {
        out.push({ entryId: e.entryId, error });
      }),
    ),
  );
  return out;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Bounds how many handler calls run at once; `acquire` waits for a free slot. */
export class Slots {
  private free: number;
  private readonly waiters: Array<() => void> = [];
  constructor(size: number) {
    this.free = Math.max(1, size);
  }
  acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((r) => this.waiters.push(r));
  }
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }
}
