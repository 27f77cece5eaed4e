// Dapr's built-in service retries (DaprBuiltInServiceRetries) on calls to another app's sidecar:
// on while no `targets.apps.<id>` entry names the app, they repeat a call whose connection
// failed, 1 s apart, 3 times by default, and a Resiliency may redefine them by name. The peer is
// a loopback server registered under the app id in the caller's registry: it resets the first
// connections, then answers as a sidecar's internal port would, and counts every connection.
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { writeEntry } from '../../proxy/naming/local-registry.js';
import { startSidecar, tempDir, type SidecarProc } from '../helpers/processes.js';

interface Peer { port: number; connections: number; resetFirst: number; server: Server }

const peers: Peer[] = [];
afterAll(async () => {
  await Promise.all(peers.map((p) => new Promise((r) => p.server.close(r))));
});

/** A fake peer sidecar: resets the first `resetFirst` connections, answers 200 on the later ones. */
async function startPeer(resetFirst: number): Promise<Peer> {
  const http = createHttpServer((req, res) => {
    req.resume();
    res.end(JSON.stringify({ path: req.url }));
  });
  const peer: Peer = { port: 0, connections: 0, resetFirst, server: undefined as unknown as Server };
  peer.server = createServer((socket: Socket) => {
    peer.connections++;
    if (peer.connections <= peer.resetFirst) socket.resetAndDestroy();
    else http.emit('connection', socket);
  });
  await new Promise<void>((r) => peer.server.listen(0, '127.0.0.1', r));
  peer.port = (peer.server.address() as { port: number }).port;
  peers.push(peer);
  return peer;
}

function register(home: string, appId: string, port: number): void {
  // Registered with this test's pid, so the caller's resolver takes it for a live sidecar.
  writeEntry(home, { appId, pid: process.pid, host: '127.0.0.1', httpPort: port, grpcPort: 0, internalPort: port, metricsPort: 0, startedAt: Date.now() });
}

function resiliency(spec: string): string {
  return `apiVersion: dapr.io/v1alpha1\nkind: Resiliency\nmetadata:\n  name: builtin\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
}

async function caller(resources: Record<string, string>): Promise<SidecarProc> {
  return startSidecar({ appId: 'bi-caller', home: tempDir('bulwark-home-'), resources });
}

describe('DaprBuiltInServiceRetries', () => {
  it('retries a call whose connection to the peer sidecar failed, with no Resiliency at all', async () => {
    const sc = await caller({});
    const peer = await startPeer(2);
    register(sc.home, 'bi-flaky', peer.port);
    const r = await fetch(`${sc.url}/v1.0/invoke/bi-flaky/method/hello`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ path: '/hello' });
    expect(peer.connections).toBe(3);
  });

  it('gives up after 3 retries with Dapr\'s invoke error', async () => {
    const sc = await caller({});
    const peer = await startPeer(100);
    register(sc.home, 'bi-down', peer.port);
    const r = await fetch(`${sc.url}/v1.0/invoke/bi-down/method/hello`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'again and again' });
    expect(r.status).toBe(500);
    expect(((await r.json()) as { errorCode: string }).errorCode).toBe('ERR_DIRECT_INVOKE');
    expect(peer.connections).toBe(4);
  });

  it('is off for an app named under targets.apps, and redefinable by name for the others', async () => {
    const sc = await caller({
      'resiliency.yaml': resiliency(`
policies:
  timeouts: { long: 30s }
  retries:
    DaprBuiltInServiceRetries: { policy: constant, duration: 100ms, maxRetries: 5 }
targets:
  apps:
    bi-named: { timeout: long }
`),
    });
    const named = await startPeer(100);
    const other = await startPeer(100);
    register(sc.home, 'bi-named', named.port);
    register(sc.home, 'bi-other', other.port);
    expect((await fetch(`${sc.url}/v1.0/invoke/bi-named/method/x`)).status).toBe(500);
    expect(named.connections).toBe(1);
    expect((await fetch(`${sc.url}/v1.0/invoke/bi-other/method/x`)).status).toBe(500);
    expect(other.connections).toBe(6);
  });

  it('never repeats an answer, whatever its status', async () => {
    const sc = await caller({});
    const http = createHttpServer((req, res) => {
      req.resume();
      res.statusCode = 503;
      res.end('busy');
    });
    const peer = await startPeer(0);
    peer.server.removeAllListeners('connection');
    peer.server.on('connection', (s: Socket) => {
      peer.connections++;
      http.emit('connection', s);
    });
    register(sc.home, 'bi-busy', peer.port);
    const r = await fetch(`${sc.url}/v1.0/invoke/bi-busy/method/x`);
    expect(r.status).toBe(503);
    expect(await r.text()).toBe('busy');
    expect(peer.connections).toBe(1);
  });
});
