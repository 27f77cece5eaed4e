// Tokens and scopes through real sidecars: DAPR_API_TOKEN with exactly Dapr's exemptions (the
// CVE-2023-37918 bypass attempts fail), the token never travels to another app, and a
// component scoped to other apps is not loaded.
import { request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { startMember, type Member } from '../helpers/mesh.js';
import { tempDir } from '../helpers/processes.js';

// The gRPC API listens on 50001 by default: every sidecar here takes a free port instead.
const GRPC = ['--dapr-grpc-port', '0'];

const TOKEN = 'api-tok-9';
let alice: Member;
let bob: Member;

const scoped = (name: string, scopes: string): string => `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: ${name}
spec:
  type: state.in-memory
  version: v1
scopes: [${scopes}]
`;

beforeAll(async () => {
  const home = tempDir('bulwark-tokens-');
  const resources = { 'mine.yaml': scoped('mine', 'alice'), 'theirs.yaml': scoped('theirs', 'bob') };
  alice = await startMember('alice', home, { env: { DAPR_API_TOKEN: TOKEN }, resources, args: GRPC });
  bob = await startMember('bob', home, { resources, args: GRPC });
}, 60_000);

async function status(path: string, method = 'GET', token?: string): Promise<number> {
  const res = await request(`${alice.sidecar.url}${path}`, { method: method as 'GET', headers: token ? { 'dapr-api-token': token } : {} });
  await res.body.dump();
  return res.statusCode;
}

describe('DAPR_API_TOKEN', () => {
  it.each([
    ['GET', '/v1.0/metadata'],
    ['GET', '/v1.0/invoke/bob/method/x?foo=/healthz'],
    ['GET', '/v1.0/invoke/bob/method/healthz'],
    ['POST', '/v1.0/healthz'],
    ['GET', '/v1.0/healthz/../metadata'],
  ])('refuses %s %s without the token (401)', async (method, path) => {
    expect(await status(path, method)).toBe(401);
  });

  it('exempts exactly GET /v1.0/healthz, /v1.0/healthz/ and /v1.0/healthz/outbound', async () => {
    expect(await status('/v1.0/healthz/outbound')).toBe(204);
    expect([204, 500]).toContain(await status('/v1.0/healthz'));
    expect(await status('/v1.0/healthz/', 'GET')).not.toBe(401);
  });

  it('accepts the token and does not pass it on to the called app', async () => {
    const res = await request(`${alice.sidecar.url}/v1.0/invoke/bob/method/echo`, { headers: { 'dapr-api-token': TOKEN } });
    expect(res.statusCode).toBe(200);
    const body = (await res.body.json()) as { headers: Record<string, string> };
    expect(body.headers['dapr-api-token']).toBeUndefined();
    expect(body.headers['dapr-caller-app-id']).toBe('alice');
  });

  it('refuses a wrong token', async () => {
    expect(await status('/v1.0/metadata', 'GET', 'nope')).toBe(401);
  });
});

describe('component scopes', () => {
  it('loads only the components scoped to the app', async () => {
    const res = await request(`${bob.sidecar.url}/v1.0/metadata`);
    const names = ((await res.body.json()) as { components: Array<{ name: string }> }).components.map((c) => c.name);
    expect(names).toContain('theirs');
    expect(names).not.toContain('mine');
  });
});
