// Several instances of one app id: the caller's sidecar spreads calls over all of them (local
// registry, round-robin), an instance whose sidecar is killed drops out without a failed call,
// and a retry under the caller's Resiliency policy goes to the next instance.
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { startMember } from '../helpers/mesh.js';
import { eventually, stopProcess, tempDir } from '../helpers/processes.js';

async function whoAnswers(url: string, n: number): Promise<{ names: Map<string, number>; failures: number }> {
  const names = new Map<string, number>();
  let failures = 0;
  for (let i = 0; i < n; i++) {
    const res = await request(url);
    const text = await res.body.text();
    if (res.statusCode !== 200) {
      failures++;
      continue;
    }
    const name = (JSON.parse(text) as { name: string }).name;
    names.set(name, (names.get(name) ?? 0) + 1);
  }
  return { names, failures };
}

describe('three instances of one app id', () => {
  it('share the load, and a killed one drops out', async () => {
    const home = tempDir('bulwark-home-');
    const [caller, ...workers] = await Promise.all([
      startMember('front', home),
      startMember('worker', home, { name: 'w1' }),
      startMember('worker', home, { name: 'w2' }),
      startMember('worker', home, { name: 'w3' }),
    ]);
    const url = `${caller.sidecar.url}/v1.0/invoke/worker/method/job`;
    const first = await eventually(async () => {
      const r = await whoAnswers(url, 30);
      return r.names.size === 3 ? r : undefined;
    });
    expect(first.failures).toBe(0);
    // Round-robin: each of the three got its share.
    expect([...first.names.values()].sort()).toEqual([10, 10, 10]);

    // Kill w2's sidecar outright: its registry entry stays behind with a dead pid.
    await stopProcess(workers[1]!.sidecar, 'SIGKILL');
    const after = await whoAnswers(url, 30);
    expect(after.failures).toBe(0);
    expect([...after.names.keys()].sort()).toEqual(['w1', 'w3']);
    expect(after.names.get('w1')! + after.names.get('w3')!).toBe(30);
  });
});

describe('a retry under the app policy', () => {
  it('moves to the next instance, so a sick instance does not fail calls', async () => {
    const home = tempDir('bulwark-home-');
    const resiliency = {
      'resiliency.yaml': `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: hop-on
spec:
  policies:
    retries:
      twice: { policy: constant, duration: 10ms, maxRetries: 2 }
  targets:
    apps:
      pair: { retry: twice }
`,
    };
    const health = ['--enable-app-health-check', '--app-health-probe-interval', '1', '--app-health-threshold', '1'];
    const [caller, , sick] = await Promise.all([
      startMember('client', home, { resources: resiliency }),
      startMember('pair', home, { name: 'well', args: health }),
      startMember('pair', home, { name: 'sick', args: health }),
    ]);
    await (await request(`http://127.0.0.1:${sick.app.port}/admin/health?ok=0`)).body.dump();
    // Once the sick instance's sidecar has seen it (it answers 500 ERR_DIRECT_INVOKE itself)...
    await eventually(async () => {
      const res = await request(`http://127.0.0.1:${sick.internalPort}/probe`);
      await res.body.dump();
      return res.statusCode === 500;
    });
    // ...every call still succeeds: whichever instance a call starts at, its retry moves on.
    const r = await whoAnswers(`${caller.sidecar.url}/v1.0/invoke/pair/method/work`, 10);
    expect(r.failures).toBe(0);
    expect([...r.names.entries()]).toEqual([['well', 10]]);
  });
});
