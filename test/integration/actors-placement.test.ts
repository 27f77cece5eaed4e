// Placement across three hosting sidecars, with the membership table in the local registry
// (one BULWARK_HOME), in Redis and in PostgreSQL (a home per sidecar, so nothing is shared
// but the store). Checks: every id is active on exactly one host (the app logs activations);
// after a SIGKILL of one host its actors answer from the others within the lease, with their
// state, while the others' actors stay where they were; reminders fire only on the owner and
// follow the actors of the killed host; a host that joins takes over some actors, which the old
// host deactivates first.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { callActor, readEvents, sqliteActorStore, startActorHost, type ActorEvent, NO_GRPC } from '../helpers/actors.js';
import { eventually, startSidecar, stopProcess, tempDir, writeFolder, type SidecarProc } from '../helpers/processes.js';
import { serviceAvailable } from '../helpers/services.js';

interface Backend {
  name: string;
  service?: 'redis' | 'postgres';
  /** Configuration `spec.nameResolution` body, or undefined for the local registry. */
  setup(): Promise<{ nameResolution?: string; sharedHome: boolean; cleanup(): Promise<void> }>;
}

const BACKENDS: Backend[] = [
  { name: 'the local registry', setup: async () => ({ sharedHome: true, cleanup: async () => undefined }) },
  {
    name: 'Redis',
    service: 'redis',
    setup: async () => {
      const prefix = `bulwark-test-actors-${randomUUID()}`;
      return {
        sharedHome: false,
        nameResolution: `component: redis
    configuration:
      redisHost: localhost:6379
      keyPrefix: ${prefix}
      actorsKeyPrefix: ${prefix}
      leaseTTL: 2s`,
        cleanup: async () => {
          const r = new Redis({ host: '127.0.0.1', port: 6379 });
          const keys = await r.keys(`${prefix}*`);
          if (keys.length) await r.del(...keys);
          r.disconnect();
        },
      };
    },
  },
  {
    name: 'PostgreSQL',
    service: 'postgres',
    setup: async () => {
      const suffix = randomUUID().replace(/-/g, '').slice(0, 10);
      return {
        sharedHome: false,
        nameResolution: `component: postgresql
    configuration:
      connectionString: postgres://postgres@127.0.0.1:5432/postgres
      tableName: bulwark_nr_${suffix}
      actorsTableName: bulwark_actors_${suffix}
      leaseTTL: 2s`,
        cleanup: async () => {
          const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres', max: 1 });
          for (const t of [`bulwark_nr_${suffix}`, `bulwark_actors_${suffix}`, `bulwark_actors_${suffix}_version`]) await pool.query(`DROP TABLE IF EXISTS ${t}`);
          await pool.end();
        },
      };
    },
  },
];

/** Activation intervals per id must never overlap across hosts. */
function checkOneHostAtATime(events: ActorEvent[]): void {
  const activeOn = new Map<string, string>();
  for (const e of events) {
    if (e.ev === 'activate') {
      const cur = activeOn.get(e.id);
      expect(cur === undefined || cur === e.host, `${e.id} activated on ${e.host} while active on ${cur}`).toBe(true);
      activeOn.set(e.id, e.host);
    } else if (e.ev === 'deactivate' && activeOn.get(e.id) === e.host) {
      activeOn.delete(e.id);
    }
  }
}

for (const backend of BACKENDS) {
  const available = backend.service ? await serviceAvailable(backend.service) : true;
  describe.skipIf(!available)(`actor placement, membership in ${backend.name}`, () => {
    it('one host per id; a killed host\'s actors move with their state; a joining host takes some over', async () => {
      const env = await backend.setup();
      try {
        const dir = tempDir('bulwark-placement-');
        const events = join(dir, 'events.jsonl');
        const sharedHome = tempDir('bulwark-home-');
        const home = (): string => (env.sharedHome ? sharedHome : tempDir('bulwark-home-'));
        const args: string[] = [];
        if (env.nameResolution) {
          const cfg = writeFolder({ 'config.yaml': `apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: placement\nspec:\n  nameResolution:\n    ${env.nameResolution}\n` });
          args.push('--config', join(cfg, 'config.yaml'));
        }
        const resources = { 'store.yaml': sqliteActorStore(join(dir, 'actors.db')) };
        const start = (name: string): Promise<SidecarProc> => startActorHost({ appId: 'placed', home: home(), resources, args, env: { EVENTS_FILE: events, HOST_NAME: name } });
        const hosts = await Promise.all(['h1', 'h2', 'h3'].map(start));
        const client = await startSidecar({ appId: 'placed-client', home: env.sharedHome ? sharedHome : tempDir('bulwark-home-'), resources: {}, args: ['--log-level', 'info', ...NO_GRPC, ...args] });
        // The client reads the table on its first call; the hosts follow it from the start.
        for (const p of hosts) await p.waitFor(/placement table v\d+: 3 host\(s\)/, 30_000);

        const ids = Array.from({ length: 30 }, (_, i) => `id-${i}`);
        const servedBy = new Map<string, string>();
        for (const round of [1, 2]) {
          const rs = await Promise.all(ids.map((id) => callActor(client, 'Counter', id, 'increment')));
          rs.forEach((r, i) => {
            expect(r.status, r.text).toBe(200);
            const { count, host } = JSON.parse(r.text) as { count: number; host: string };
            expect(count).toBe(round);
            if (round === 2) expect(host).toBe(servedBy.get(ids[i]!)); // stable owner
            servedBy.set(ids[i]!, host);
          });
        }
        expect(new Set(servedBy.values())).toEqual(new Set(['h1', 'h2', 'h3']));
        let ev = readEvents(events);
        for (const id of ids) expect(ev.filter((e) => e.ev === 'activate' && e.id === id).map((e) => e.host), id).toEqual([servedBy.get(id)]);

        // Reminders fire on the owner only, whichever sidecar created them.
        const remIds = ['h1', 'h2', 'h3'].flatMap((h) => ids.filter((id) => servedBy.get(id) === h).slice(0, 3));
        for (const id of remIds) {
          const r = await fetch(`${hosts[0]!.url}/v1.0/actors/Counter/${id}/reminders/ping`, { method: 'POST', body: JSON.stringify({ dueTime: '0s', period: '1s' }) });
          expect(r.status).toBe(204);
        }
        const remindersOf = (id: string): ActorEvent[] => readEvents(events).filter((e) => e.ev === 'reminder' && e.id === id);
        await eventually(() => remIds.every((id) => remindersOf(id).length >= 2), 30_000);
        for (const id of remIds) expect(new Set(remindersOf(id).map((e) => e.host))).toEqual(new Set([servedBy.get(id)]));

        // SIGKILL h3: no goodbye, its lease (or its pid) must run out.
        await stopProcess(hosts[2]!, 'SIGKILL');
        const after = new Map<string, string>();
        await Promise.all(
          ids.map((id) =>
            eventually(async () => {
              const r = await callActor(client, 'Counter', id, 'increment');
              if (r.status !== 200) return false;
              const { count, host } = JSON.parse(r.text) as { count: number; host: string };
              expect(count).toBe(3); // state came along
              after.set(id, host);
              return true;
            }, 30_000, 200),
          ),
        );
        for (const id of ids) {
          if (servedBy.get(id) === 'h3') expect(['h1', 'h2']).toContain(after.get(id));
          else expect(after.get(id), `${id} should not move`).toBe(servedBy.get(id));
        }

        // h3's reminders follow its actors to their new owners.
        const killedAt = Date.now();
        const moved3 = remIds.filter((id) => servedBy.get(id) === 'h3');
        expect(moved3.length).toBeGreaterThan(0);
        await eventually(() => moved3.every((id) => remindersOf(id).some((e) => e.at > killedAt && e.host === after.get(id))), 30_000);
        for (const id of remIds) {
          expect((await fetch(`${hosts[0]!.url}/v1.0/actors/Counter/${id}/reminders/ping`, { method: 'DELETE' })).status).toBe(204);
        }

        // A new host joins: the actors it wins are deactivated on their old host first.
        const h4 = await start('h4');
        for (const p of [hosts[0]!, hosts[1]!, client]) await eventually(() => (p.output().match(/placement table v\d+: 3 host\(s\)/g) ?? []).length >= 2, 30_000);
        await new Promise((r) => setTimeout(r, 1_500)); // let the rebalancing deactivations finish
        const rs = await Promise.all(ids.map((id) => callActor(client, 'Counter', id, 'increment')));
        const moved: string[] = [];
        rs.forEach((r, i) => {
          expect(r.status, r.text).toBe(200);
          const { count, host } = JSON.parse(r.text) as { count: number; host: string };
          expect(count).toBe(4);
          if (host === 'h4') moved.push(ids[i]!);
          else expect(host).toBe(after.get(ids[i]!));
        });
        expect(moved.length).toBeGreaterThan(0);
        ev = readEvents(events);
        for (const id of moved) expect(ev.some((e) => e.ev === 'deactivate' && e.id === id && e.host === after.get(id))).toBe(true);
        checkOneHostAtATime(ev.filter((e) => e.host !== 'h3'));
        await Promise.all([stopProcess(h4), stopProcess(client), stopProcess(hosts[0]!), stopProcess(hosts[1]!)]);
      } finally {
        await env.cleanup();
      }
    }, 180_000);
  });
}
