// The actor state access the actors block builds on, over a real SQLite store file: Dapr's actor
// key layout, all-or-nothing transactions, and which store is picked (or refused) as the actor
// state store.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { ComponentSet, LoadedComponent } from '../../core/block.js';
import type { Component, Logger } from '../../core/component.js';
import { noPolicies } from '../../core/policy.js';
import { ETagError, type StateStore } from '../../core/state/component.js';
import { openActorStateStore } from '../../core/state/actor-state.js';
import { noTelemetry } from '../../core/telemetry.js';
import { createInMemoryStateStore } from '../../components/state/in-memory.js';
import { createSqliteStateStore } from '../../components/state/sqlite.js';
import { tempDir } from '../helpers/processes.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const dir = tempDir('bulwark-actor-state-');
const opened: Component[] = [];

afterAll(async () => {
  for (const c of opened) await c.close?.();
});

async function loaded(name: string, type: string, metadata: Record<string, string>): Promise<LoadedComponent> {
  const ctx = { name, type, version: 'v1', metadata, appId: 'shop', homeDir: dir, cwd: dir, env: {}, logger: quiet };
  const instance: StateStore = type === 'state.sqlite' ? await createSqliteStateStore(ctx) : await createInMemoryStateStore(ctx);
  opened.push(instance);
  return { name, type, version: 'v1', category: 'state', instance, metadata };
}

function context(list: LoadedComponent[]) {
  const components: ComponentSet = {
    all: () => list,
    of: <T extends Component>() => new Map(list.map((c) => [c.name, c.instance as T])),
    loaded: () => new Map(list.map((c) => [c.name, c])),
  };
  return {
    appId: 'shop',
    components,
    resources: { components: [], httpEndpoints: [], subscriptions: [], resiliencies: [], warnings: [] },
    policies: noPolicies,
    telemetry: noTelemetry,
    logger: quiet,
  };
}

describe('actor state store', () => {
  it('writes <appId>||<type>||<id>||<key> with partitionKey, all or nothing', async () => {
    const db = join(dir, 'actors.db');
    const actors = openActorStateStore(context([
      await loaded('plain', 'state.in-memory', {}),
      await loaded('actorstore', 'state.sqlite', { connectionString: db, actorStateStore: 'true' }),
    ]))!;
    expect(actors.name).toBe('actorstore');
    expect(actors.partitionKey('Cart', 'c-1')).toBe('shop||Cart||c-1');

    await actors.transact('Cart', 'c-1', [
      { operation: 'upsert', key: 'items', value: '["book"]' },
      { operation: 'upsert', key: 'total', value: '12.5', metadata: { ttlInSeconds: '3600' } },
    ]);
    const items = await actors.get('Cart', 'c-1', 'items');
    expect(items?.data).toBe('["book"]');
    expect((await actors.get('Cart', 'c-1', 'total'))?.metadata?.ttlExpireTime).toBeTruthy();
    expect(await actors.get('Cart', 'c-2', 'items')).toBeUndefined();

    const raw = new Database(db, { readonly: true });
    const keys = (raw.prepare('SELECT key FROM state ORDER BY key').all() as Array<{ key: string }>).map((r) => r.key);
    raw.close();
    expect(keys).toEqual(['shop||Cart||c-1||items', 'shop||Cart||c-1||total']);

    // A stale ETag fails the whole transaction: the delete before it is not applied.
    await expect(
      actors.transact('Cart', 'c-1', [
        { operation: 'delete', key: 'total' },
        { operation: 'upsert', key: 'items', value: '[]', etag: 'stale' },
      ]),
    ).rejects.toBeInstanceOf(ETagError);
    expect((await actors.get('Cart', 'c-1', 'total'))?.data).toBe('12.5');
    await actors.transact('Cart', 'c-1', [{ operation: 'upsert', key: 'items', value: '[]', etag: items!.etag! }]);
    expect((await actors.get('Cart', 'c-1', 'items'))?.data).toBe('[]');
  });

  it('is undefined without a marked store, and refuses two marked stores', async () => {
    expect(openActorStateStore(context([await loaded('a', 'state.in-memory', {})]))).toBeUndefined();
    const two = context([
      await loaded('a', 'state.in-memory', { actorStateStore: 'true' }),
      await loaded('b', 'state.in-memory', { ActorStateStore: 'yes' }),
    ]);
    expect(() => openActorStateStore(two)).toThrow(/duplicate actor state store: a and b/);
  });
});
