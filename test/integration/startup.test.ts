// Start-up as a client sees it: what a sidecar loads depends on its resources (drivers are
// imported only for configured component types), and the gRPC port, whose stack is loaded on
// its first connection, serves calls made the moment healthz turns ready.
import { readFileSync } from 'node:fs';
import { credentials, loadPackageDefinition, type Client, type ServiceClientConstructor } from '@grpc/grpc-js';
import { fromJSON } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { CLI, eventually, startProcess, startSidecar, stopProcess, type SidecarProc } from '../helpers/processes.js';

const HEALTH = {
  nested: {
    grpc: {
      nested: {
        health: {
          nested: {
            v1: {
              nested: {
                HealthCheckRequest: { fields: { service: { type: 'string', id: 1 } } },
                HealthCheckResponse: { fields: { status: { type: 'int32', id: 1 } } },
                Health: { methods: { Check: { requestType: 'HealthCheckRequest', responseType: 'HealthCheckResponse' } } },
              },
            },
          },
        },
      },
    },
  },
};

/** Native libraries mapped into the process (shared objects loaded by `require` of an addon). */
function mappedAddons(pid: number): string[] {
  return [...new Set(readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => l.endsWith('.node')).map((l) => l.slice(l.lastIndexOf('/') + 1)))];
}

async function healthy(sc: SidecarProc): Promise<void> {
  await eventually(async () => (await fetch(`${sc.url}/v1.0/healthz`)).status === 204);
}

function healthCheck(port: number): Promise<number> {
  const Health = (loadPackageDefinition(fromJSON(HEALTH)) as unknown as { grpc: { health: { v1: { Health: ServiceClientConstructor } } } }).grpc.health.v1.Health;
  const client = new Health(`127.0.0.1:${port}`, credentials.createInsecure()) as Client & {
    Check(req: object, cb: (err: Error | null, res: { status: number }) => void): void;
  };
  return new Promise((resolve, reject) =>
    client.Check({ service: '' }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res.status);
    }),
  );
}

describe('start-up', () => {
  it('loads a component driver only when a component of its type is configured', async () => {
    const bare = await startSidecar({ appId: 'st-bare' });
    const defaults = await startSidecar({ appId: 'st-defaults', embeddedDefaults: true });
    try {
      await Promise.all([healthy(bare), healthy(defaults)]);
      expect(mappedAddons(bare.pid)).not.toContain('better_sqlite3.node');
      expect(mappedAddons(defaults.pid)).toContain('better_sqlite3.node');
      // The store the defaults declare works, so its driver was really loaded on demand.
      const save = await fetch(`${defaults.url}/v1.0/state/statestore`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ key: 'k', value: 'v' }]) });
      expect(save.status).toBe(204);
      expect(await (await fetch(`${defaults.url}/v1.0/state/statestore/k`)).json()).toBe('v');
    } finally {
      await Promise.all([stopProcess(bare), stopProcess(defaults)]);
    }
  });

  it('serves gRPC calls made as soon as healthz is ready, several at once while the gRPC stack loads', async () => {
    const sc = await startSidecar({ appId: 'st-grpc', args: ['--log-level', 'info'] });
    try {
      const port = Number((await sc.waitFor(/gRPC API listening on [^:\s]+:(\d+)/))[1]);
      await healthy(sc);
      expect(await Promise.all([healthCheck(port), healthCheck(port), healthCheck(port)])).toEqual([1, 1, 1]);
      expect(await healthCheck(port)).toBe(1);
    } finally {
      await stopProcess(sc);
    }
    expect((await sc.exited).code).toBe(0);
  });

  it('answers --help and version without starting anything', async () => {
    const help = startProcess(process.execPath, [CLI, '--help']);
    expect((await help.exited).code).toBe(0);
    expect(help.output()).toContain('bulwark sidecar [flags]');
    const version = startProcess(process.execPath, [CLI, 'version']);
    expect((await version.exited).code).toBe(0);
    expect(version.output()).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
