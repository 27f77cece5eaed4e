// Two sidecars of one app id on one state store (a shared SQLite file), each with its own SDK
// worker: every instance is run by exactly one of them (the placement owner of the internal
// workflow actor type), operations through either sidecar reach the owner, and after kill -9
// of one sidecar the other takes its instances over and completes them. Placement in the local
// registry (one BULWARK_HOME; a dead sidecar drops out at once) and in Redis (a home each; a
// dead sidecar drops out when its 2 s lease runs out).
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { join } from 'node:path';
import { DaprWorkflowClient, WorkflowRuntimeStatus } from '@dapr/dapr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteActorStore } from '../helpers/actors.js';
import { freePort } from '../../cli/free-port.js';
import { ROOT, eventually, startProcess, startSidecar, stopProcess, tempDir, writeFolder, type Proc, type SidecarProc } from '../helpers/processes.js';
import { serviceAvailable } from '../helpers/services.js';

interface Node {
  name: string;
  sidecar: SidecarProc;
  worker: Proc;
  log: string;
  client: DaprWorkflowClient;
}

interface Backend {
  name: string;
  /** Flags that select the membership store; the home to give each sidecar. */
  setup(): { args: string[]; home: () => string; cleanup?: () => Promise<void> };
}

const BACKENDS: Array<Backend & { available: boolean }> = [
  {
    name: 'the local registry',
    available: true,
    setup: () => {
      const home = tempDir('bulwark-home-');
      return { args: [], home: () => home };
    },
  },
  {
    name: 'Redis',
    available: await serviceAvailable('redis'),
    setup: () => {
      const prefix = `bulwark-test-wf-${randomUUID()}`;
      const cfg = writeFolder({
        'config.yaml': `apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: wf\nspec:\n  nameResolution:\n    component: redis\n    configuration:\n      redisHost: localhost:6379\n      keyPrefix: ${prefix}\n      actorsKeyPrefix: ${prefix}\n      leaseTTL: 2s\n`,
      });
      const cleanup = async (): Promise<void> => {
        const r = new Redis({ host: '127.0.0.1', port: 6379 });
        const keys = await r.keys(`${prefix}*`);
        if (keys.length) await r.del(...keys);
        r.disconnect();
      };
      return { args: ['--config', join(cfg, 'config.yaml')], home: () => tempDir('bulwark-home-'), cleanup };
    },
  },
];

async function startNode(name: string, dir: string, env: { args: string[]; home: () => string }): Promise<Node> {
  const grpcPort = await freePort();
  const resources = { 'store.yaml': sqliteActorStore(join(dir, 'wf.db')) };
  const sidecar = await startSidecar({ appId: 'wf-owners', home: env.home(), resources, args: ['--dapr-grpc-port', String(grpcPort), '--log-level', 'info', ...env.args] });
  await sidecar.waitFor(/gRPC API listening/);
  const log = join(dir, `${name}.log`);
  const worker = startProcess(process.execPath, [join(ROOT, 'test/fixtures/workflow-app.mjs')], { env: { DAPR_GRPC_PORT: String(grpcPort), WF_LOG: log } });
  await worker.waitFor(/workflow worker started/);
  return { name, sidecar, worker, log, client: new DaprWorkflowClient({ daprHost: '127.0.0.1', daprPort: String(grpcPort) }) };
}

/** "<step>" lines each worker logged for `id`. */
function runsOf(node: Node, id: string): string[] {
  if (!existsSync(node.log)) return [];
  return readFileSync(node.log, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith(`${id} `))
    .map((l) => l.slice(id.length + 1));
}

function counts(lines: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of lines) m.set(l, (m.get(l) ?? 0) + 1);
  return m;
}

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`workflow ownership, placement in ${backend.name}`, () => {
    const nodes: Node[] = [];
    let cleanup: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      const dir = tempDir('bulwark-wf-owners-');
      const env = backend.setup();
      cleanup = env.cleanup;
      nodes.push(await startNode('a', dir, env), await startNode('b', dir, env));
      // Both sidecars joined placement with the workflow type and each sees the other.
      for (const n of nodes) await eventually(() => /placement table v\d+: 2 host\(s\)/.test(n.sidecar.output()), 30_000);
    }, 90_000);

    afterAll(async () => {
      for (const n of nodes) {
        await n.client.stop().catch(() => undefined);
        await stopProcess(n.worker);
        await stopProcess(n.sidecar);
      }
      await cleanup?.();
    });

    describe('two sidecars of one app on one store', () => {
      it('runs 20 instances started through one sidecar on both, each activity once, all visible through either', async () => {
        const [a, b] = [nodes[0]!, nodes[1]!];
        const ids = Array.from({ length: 20 }, (_, i) => `shared-${i}`);
        await Promise.all(ids.map((id) => a.client.scheduleNewWorkflow('chainWorkflow', { steps: 5 }, id)));
        const states = await Promise.all(ids.map((id) => a.client.waitForWorkflowCompletion(id, true, 120)));
        for (const s of states) {
          expect(s?.runtimeStatus).toBe(WorkflowRuntimeStatus.COMPLETED);
          expect(JSON.parse(s!.serializedOutput!)).toBe(15);
        }
        let onA = 0;
        let onB = 0;
        for (const id of ids) {
          const ra = runsOf(a, id);
          const rb = runsOf(b, id);
          // One owner ran every step of the instance, each exactly once.
          expect(ra.length === 0 || rb.length === 0, `${id} ran on both: ${ra} / ${rb}`).toBe(true);
          const c = counts([...ra, ...rb]);
          expect([...c.keys()].sort()).toEqual(['step 1', 'step 2', 'step 3', 'step 4', 'step 5']);
          expect([...c.values()].every((n) => n === 1), `${id}: ${[...c]}`).toBe(true);
          if (ra.length > 0) onA++;
          else onB++;
        }
        // Rendezvous placement spread the 20 instances over both sidecars.
        expect(onA).toBeGreaterThan(0);
        expect(onB).toBeGreaterThan(0);
        // Operations through the other sidecar reach the owner: read, and an event to a waiting instance.
        const got = await b.client.getWorkflowState('shared-0', true);
        expect(got?.runtimeStatus).toBe(WorkflowRuntimeStatus.COMPLETED);
        const waitIds = ['shared-wait-0', 'shared-wait-1', 'shared-wait-2', 'shared-wait-3'];
        for (const id of waitIds) await b.client.scheduleNewWorkflow('waitWorkflow', null, id);
        for (const id of waitIds) await a.client.waitForWorkflowStart(id, false, 30);
        for (const id of waitIds) await a.client.raiseEvent(id, 'go', `went-${id}`);
        for (const id of waitIds) {
          const s = await b.client.waitForWorkflowCompletion(id, true, 30);
          expect(JSON.parse(s!.serializedOutput!)).toBe(`went-${id}`);
        }
      }, 180_000);

      it('completes the instances of a sidecar killed with -9 on the other one', async () => {
        const [a, b] = [nodes[0]!, nodes[1]!];
        const ids = Array.from({ length: 20 }, (_, i) => `takeover-${i}`);
        await Promise.all(ids.map((id) => a.client.scheduleNewWorkflow('chainWorkflow', { steps: 10, sleepMs: 200 }, id)));
        // Kill b once its worker is in the middle of its instances.
        await eventually(() => ids.some((id) => runsOf(b, id).length >= 3), 60_000);
        await stopProcess(b.sidecar, 'SIGKILL');
        // The JS SDK's worker gives up when its stream breaks: it goes down with its sidecar.
        await stopProcess(b.worker, 'SIGKILL');
        const unfinishedOnB = ids.filter((id) => runsOf(b, id).length > 0 && new Set(runsOf(b, id)).size < 10);
        expect(unfinishedOnB.length).toBeGreaterThan(0);
        const states = await Promise.all(ids.map((id) => a.client.waitForWorkflowCompletion(id, true, 150)));
        for (const [i, s] of states.entries()) {
          expect(s?.runtimeStatus, `${ids[i]}\n${a.sidecar.output().slice(-3000)}`).toBe(WorkflowRuntimeStatus.COMPLETED);
          expect(JSON.parse(s!.serializedOutput!)).toBe(55);
        }
        for (const id of ids) {
          const c = counts([...runsOf(a, id), ...runsOf(b, id)]);
          expect(c.size).toBe(10);
          // At most the step in flight at the kill ran twice (at-least-once, as in Dapr).
          expect([...c.values()].filter((n) => n > 1).length, `${id}: ${[...c]}`).toBeLessThanOrEqual(1);
          expect([...c.values()].every((n) => n <= 2)).toBe(true);
        }
        // Each instance b had not finished was finished by a.
        for (const id of unfinishedOnB) expect(runsOf(a, id).length, id).toBeGreaterThan(0);
      }, 240_000);
    });
  });
}
