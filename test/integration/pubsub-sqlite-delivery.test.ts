// The embedded broker's delivery loop: a publish from another process wakes an idle subscriber
// without waiting for the poll, and a subscription never has more than `concurrency` messages
// in flight while each one is acknowledged on its own.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ComponentContext, Logger } from '../../core/component.js';
import type { PubSub, ReceivedMessage } from '../../core/pubsub/component.js';
import { createSqlitePubSub } from '../../components/pubsub/sqlite.js';
import { eventually, startProcess, tempDir } from '../helpers/processes.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const SQLITE = pathToFileURL(join(process.cwd(), 'dist/components/pubsub/sqlite.js')).href;

function open(file: string, appId: string, extra: Record<string, string> = {}): Promise<PubSub> {
  const ctx: ComponentContext = {
    name: 'pubsub', type: 'pubsub.sqlite', version: 'v1', metadata: { connectionString: file, ...extra },
    appId, homeDir: tempDir(), cwd: process.cwd(), env: {}, logger: quiet,
  };
  return createSqlitePubSub(ctx);
}

const opened: PubSub[] = [];
afterEach(async () => {
  for (const b of opened.splice(0)) await b.close();
});

describe('pubsub.sqlite delivery', () => {
  it('wakes an idle subscriber when another process publishes, long before its next poll', async () => {
    const file = join(tempDir(), 'pubsub.db');
    // A poll an hour away: only the WAL watch can deliver within the test's bounds.
    const sub = await open(file, 'waker-sub', { pollInterval: '1h' });
    opened.push(sub);
    const got: ReceivedMessage[] = [];
    await sub.subscribe({ topic: 'wake', metadata: {} }, async (m) => {
      got.push(m);
    });
    // Let the first (immediate) claim find nothing, so the subscriber is idle on its poll timer.
    await new Promise((r) => setTimeout(r, 300));
    const script = `
      const { createSqlitePubSub } = await import(${JSON.stringify(SQLITE)});
      const quiet = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
      const b = await createSqlitePubSub({ name: 'pubsub', type: 'pubsub.sqlite', version: 'v1', metadata: { connectionString: ${JSON.stringify(file)} },
        appId: 'waker-pub', homeDir: ${JSON.stringify(tempDir())}, cwd: process.cwd(), env: {}, logger: quiet });
      await b.publish({ topic: 'wake', data: Buffer.from('hello from another process'), metadata: {} });
      await b.close();
      console.log('published');`;
    const pub = startProcess(process.execPath, ['--input-type=module', '-e', script]);
    await pub.waitFor(/published/);
    await eventually(() => got.length === 1, 30_000);
    expect(got[0]!.data.toString()).toBe('hello from another process');
  });

  it('keeps at most `concurrency` messages in flight and acknowledges each when its handler resolves', async () => {
    const file = join(tempDir(), 'pubsub.db');
    const broker = await open(file, 'window', { concurrency: '4' });
    opened.push(broker);
    const total = 40;
    for (let i = 0; i < total; i++) await broker.publish({ topic: 'window', data: Buffer.from(String(i)), metadata: {} });
    let inFlight = 0;
    let maxInFlight = 0;
    const held: Array<() => void> = [];
    const seen = new Map<string, number>();
    await broker.subscribe({ topic: 'window', metadata: {} }, (m) => {
      const k = m.data.toString();
      seen.set(k, (seen.get(k) ?? 0) + 1);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return new Promise<void>((resolve) =>
        held.push(() => {
          inFlight--;
          resolve();
        }),
      );
    });
    // Release one at a time, so the window is refilled while others are still held.
    while (seen.size < total || held.length > 0) {
      await eventually(() => held.length > 0, 30_000, 10);
      held.shift()!();
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(maxInFlight).toBe(4);
    expect(seen.size).toBe(total);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    // Acknowledged: a second instance of the same consumer group gets nothing back.
    await broker.close();
    opened.splice(0);
    const again = await open(file, 'window', { concurrency: '4', pollInterval: '20ms' });
    opened.push(again);
    const redelivered: string[] = [];
    await again.subscribe({ topic: 'window', metadata: {} }, async (m) => {
      redelivered.push(m.data.toString());
    });
    await new Promise((r) => setTimeout(r, 1000));
    expect(redelivered).toEqual([]);
  });
});
