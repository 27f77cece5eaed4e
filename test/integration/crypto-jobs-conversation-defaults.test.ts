// Without components: the crypto, conversation and jobs APIs answer Dapr's "not configured" errors.
// With the embedded defaults (nothing installed): jobs work out of the box on the SQLite state store.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, startSidecar } from '../helpers/processes.js';

let app: Server | undefined;
afterAll(async () => {
  if (app) await new Promise<void>((r) => app!.close(() => r()));
});

describe('blocks without components', () => {
  it('answers Dapr errors', async () => {
    const sc = await startSidecar({ appId: 'bare', args: ['--dapr-grpc-port', '0'] });
    let r = await fetch(`${sc.url}/v1.0-alpha1/crypto/any/encrypt`, { method: 'PUT', body: 'x', headers: { 'dapr-key-name': 'k', 'dapr-key-wrap-algorithm': 'A256KW' } });
    expect([r.status, ((await r.json()) as { errorCode: string }).errorCode]).toEqual([500, 'ERR_CRYPTO_PROVIDERS_NOT_CONFIGURED']);
    r = await fetch(`${sc.url}/v1.0-alpha2/conversation/any/converse`, { method: 'POST', body: '{"inputs":[]}' });
    expect([r.status, ((await r.json()) as { errorCode: string }).errorCode]).toEqual([400, 'ERR_CONVERSATION_NOT_FOUND']);
    r = await fetch(`${sc.url}/v1.0/jobs/j`, { method: 'POST', body: '{"schedule":"@daily"}' });
    const body = (await r.json()) as { errorCode: string; message: string };
    expect([r.status, body.errorCode]).toEqual([500, 'DAPR_SCHEDULER_SCHEDULE_JOB']);
    expect(body.message).toMatch(/actorStateStore/);
  });
});

describe('jobs on the embedded defaults', () => {
  it('schedules and delivers with nothing installed', async () => {
    const got: string[] = [];
    app = createServer((req, res) => {
      let b = '';
      req.on('data', (d: Buffer) => (b += d.toString()));
      req.on('end', () => {
        if (req.url === '/job/hello') got.push(b);
        res.end();
      });
    });
    await new Promise<void>((r) => app!.listen(0, '127.0.0.1', r));
    const sc = await startSidecar({ appId: 'embedded-jobs', embeddedDefaults: true, args: ['--app-port', String((app.address() as AddressInfo).port), '--dapr-grpc-port', '0'] });
    const r = await fetch(`${sc.url}/v1.0/jobs/hello`, { method: 'POST', body: JSON.stringify({ dueTime: '1s', data: { n: 1 } }) });
    expect(r.status).toBe(204);
    await eventually(() => got.length === 1, 15_000);
    expect(JSON.parse(got[0]!)).toEqual({ n: 1 });
  });
});
