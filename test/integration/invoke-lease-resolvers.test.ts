// Name resolution across machines without Kubernetes: sidecars with separate BULWARK_HOMEs (so
// no shared local registry) find each other through Redis leases; a killed instance stops
// renewing its lease and drops out.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { startMember } from '../helpers/mesh.js';
import { eventually, stopProcess, tempDir, writeFolder } from '../helpers/processes.js';
import { serviceAvailable } from '../helpers/services.js';

const hasRedis = await serviceAvailable('redis');

describe.skipIf(!hasRedis)('Redis name resolution with leases', () => {
  it('resolves app ids across separate homes and drops an instance whose lease ends', async () => {
    const prefix = `bulwark-test-nr-${randomUUID()}`;
    const cfg = writeFolder({
      'config.yaml': `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: multi-machine
spec:
  nameResolution:
    component: redis
    configuration:
      redisHost: localhost:6379
      keyPrefix: ${prefix}
      leaseTTL: 1s
`,
    });
    const args = ['--config', `${cfg}/config.yaml`];
    const [caller, w1, w2] = await Promise.all([
      startMember('edge', tempDir('bulwark-home-'), { args }),
      startMember('ledger', tempDir('bulwark-home-'), { args, name: 'l1' }),
      startMember('ledger', tempDir('bulwark-home-'), { args, name: 'l2' }),
    ]);
    const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await redis.connect();
    try {
      const members = await redis.zrange(`${prefix}:default:ledger`, 0, -1);
      expect(members.sort()).toEqual([`127.0.0.1:${w1.internalPort}`, `127.0.0.1:${w2.internalPort}`].sort());

      const url = `${caller.sidecar.url}/v1.0/invoke/ledger/method/entries`;
      const names = new Set<string>();
      for (let i = 0; i < 10; i++) {
        const res = await request(url);
        expect(res.statusCode).toBe(200);
        names.add(((await res.body.json()) as { name: string }).name);
      }
      expect([...names].sort()).toEqual(['l1', 'l2']);

      await stopProcess(w1.sidecar, 'SIGKILL');
      // The lease of the killed sidecar runs out; the live one keeps renewing.
      await eventually(async () => (await redis.zrangebyscore(`${prefix}:default:ledger`, Date.now(), '+inf')).length === 1, 10_000);
      for (let i = 0; i < 10; i++) {
        const res = await request(url);
        expect(res.statusCode).toBe(200);
        expect(((await res.body.json()) as { name: string }).name).toBe('l2');
      }
      // A clean shutdown gives its lease back at once.
      await stopProcess(w2.sidecar);
      expect(await redis.zrange(`${prefix}:default:ledger`, 0, -1)).not.toContain(`127.0.0.1:${w2.internalPort}`);
    } finally {
      await redis.del(`${prefix}:default:ledger`, `${prefix}:default:edge`);
      redis.disconnect();
    }
  });
});
