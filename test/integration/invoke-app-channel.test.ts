// The callee side's app channel under invocation: health checks take an unhealthy app out of
// traffic and put it back when it recovers, --app-max-concurrency bounds calls into the app,
// and APP_API_TOKEN reaches the app as `dapr-api-token`.
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { startMember } from '../helpers/mesh.js';
import { eventually, tempDir } from '../helpers/processes.js';

async function get(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(url);
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

describe('the app channel behind invocation', () => {
  it('sends no traffic to an unhealthy app and resumes when it recovers', async () => {
    const home = tempDir('bulwark-home-');
    const caller = await startMember('watcher', home);
    const callee = await startMember('patient', home, {
      args: ['--enable-app-health-check', '--app-health-probe-interval', '1', '--app-health-threshold', '1', '--app-health-probe-timeout', '500'],
    });
    const url = `${caller.sidecar.url}/v1.0/invoke/patient/method/work`;
    expect((await get(url)).status).toBe(200);
    await (await request(`http://127.0.0.1:${callee.app.port}/admin/health?ok=0`)).body.dump();
    const sick = await eventually(async () => {
      const r = await get(url);
      return r.status === 500 ? r : undefined;
    });
    expect(sick.body).toEqual({ errorCode: 'ERR_DIRECT_INVOKE', message: 'failed to invoke, id: patient, err: app is not in a healthy state' });
    await (await request(`http://127.0.0.1:${callee.app.port}/admin/health?ok=1`)).body.dump();
    const well = await eventually(async () => {
      const r = await get(url);
      return r.status === 200 ? r : undefined;
    });
    expect(well.body.name).toBe('patient');
  });

  it('enforces --app-max-concurrency on invocations and sends APP_API_TOKEN to the app', async () => {
    const home = tempDir('bulwark-home-');
    const caller = await startMember('burst', home);
    await startMember('narrow', home, { args: ['--app-max-concurrency', '2'], env: { APP_API_TOKEN: 'app-secret' } });
    const calls = Array.from({ length: 8 }, () => get(`${caller.sidecar.url}/v1.0/invoke/narrow/method/slow?ms=150`));
    const results = await Promise.all(calls);
    expect(results.every((r) => r.status === 200)).toBe(true);
    const seen = Math.max(...results.map((r) => r.body.maxInFlight as number));
    expect(seen).toBe(2);
    const echo = await get(`${caller.sidecar.url}/v1.0/invoke/narrow/method/echo`);
    expect((echo.body.headers as Record<string, string>)['dapr-api-token']).toBe('app-secret');
  });
});
