// Zero code change, both directions, with the plain services under examples/: fronting on
// --public-port, and the forward proxy (HTTP_PROXY at the sidecar: app ids by host name,
// other hosts passed through, CONNECT tunnels), which a Configuration can refuse.
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createNetServer, connect, type AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../cli/free-port.js';
import { startApp, startMember } from '../helpers/mesh.js';
import { CLI, ROOT, startProcess, startSidecar, tempDir, writeFolder } from '../helpers/processes.js';

const home = tempDir('bulwark-home-');
let plain: Server;
let plainPort: number;
let echoTcp: ReturnType<typeof createNetServer>;
let echoPort: number;

beforeAll(async () => {
  // A service that is neither an app id nor an HTTPEndpoint, and a raw TCP echo for CONNECT.
  plain = createHttpServer((req, res) => res.end(JSON.stringify({ plain: true, url: req.url, host: req.headers.host })));
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  plainPort = (plain.address() as AddressInfo).port;
  echoTcp = createNetServer((s) => s.pipe(s));
  await new Promise<void>((r) => echoTcp.listen(0, '127.0.0.1', r));
  echoPort = (echoTcp.address() as AddressInfo).port;
});

afterAll(async () => {
  plain.close();
  echoTcp.close();
});

/** An absolute-form request through a proxy, as an HTTP_PROXY-aware client sends it. */
function viaProxy(proxyPort: number, url: string, method = 'GET'): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: proxyPort, method, path: url, headers: { host: new URL(url).host }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** CONNECT through the proxy, then one round trip of bytes; resolves with the status line and the echo. */
function connectTunnel(proxyPort: number, authority: string): Promise<{ statusLine: string; echoed: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port: proxyPort });
    let buf = '';
    let statusLine = '';
    sock.on('data', (d) => {
      buf += d.toString();
      if (!statusLine && buf.includes('\r\n\r\n')) {
        statusLine = buf.slice(0, buf.indexOf('\r\n'));
        buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
        if (!statusLine.includes(' 200 ')) {
          sock.destroy();
          resolve({ statusLine, echoed: buf });
          return;
        }
        sock.write('ping through the tunnel');
      }
      if (statusLine && buf === 'ping through the tunnel') {
        sock.end();
        resolve({ statusLine, echoed: buf });
      }
    });
    sock.on('error', reject);
    sock.write(`CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n\r\n`);
  });
}

/**
 * A WebSocket opened through a forward proxy the raw way (absolute-form target): resolves with
 * the status line and the first text frame the server sends.
 */
function websocketViaProxy(proxyPort: number, url: string): Promise<{ statusLine: string; firstMessage: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port: proxyPort });
    let buf = Buffer.alloc(0);
    let statusLine = '';
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!statusLine) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        statusLine = buf.subarray(0, buf.indexOf('\r\n')).toString();
        buf = buf.subarray(end + 4);
      }
      // One unmasked text frame from the server: 0x81, a 7-bit length, the payload.
      if (buf.length >= 2 && buf.length >= 2 + (buf[1]! & 0x7f)) {
        sock.destroy();
        resolve({ statusLine, firstMessage: buf.subarray(2, 2 + (buf[1]! & 0x7f)).toString() });
      }
    });
    sock.on('error', reject);
    const host = new URL(url).host;
    sock.write(`GET ${url} HTTP/1.1\r\nhost: ${host}\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n`);
  });
}

describe('fronting (--public-port) an unmodified service', () => {
  it('serves the example inventory service to clients that know nothing of Dapr', async () => {
    const sc = await startSidecar({
      appId: 'inventory',
      home,
      resources: {},
      args: ['--app-port', '0', '--public-port', '0'],
      app: [process.execPath, `${ROOT}/examples/fronting/service.mjs`],
    });
    const publicPort = Number((await sc.waitFor(/public fronting on [^:\s]+:(\d+)/))[1]);
    await sc.waitFor(/application discovered/);
    const list = await request(`http://127.0.0.1:${publicPort}/items`);
    expect(list.statusCode).toBe(200);
    expect(await list.body.json()).toEqual([{ id: '1', name: 'bolt', stock: 40 }]);
    const created = await request(`http://127.0.0.1:${publicPort}/items`, { method: 'POST', body: JSON.stringify({ name: 'nut', stock: 9 }) });
    expect(created.statusCode).toBe(201);
    expect(await created.body.json()).toEqual({ id: '2', name: 'nut', stock: 9 });
    const missing = await request(`http://127.0.0.1:${publicPort}/items/99`);
    expect(missing.statusCode).toBe(404);
    expect(await missing.body.json()).toEqual({ error: 'no item 99' });
    // The same app stays reachable by app id through the sidecar's API.
    const byId = await request(`${sc.url}/v1.0/invoke/inventory/method/items/2`);
    expect(await byId.body.json()).toEqual({ id: '2', name: 'nut', stock: 9 });
    // `bulwark list` shows the public port next to the others.
    const listed = startProcess(process.execPath, [CLI, 'list', '-o', 'json'], { env: { BULWARK_HOME: home } });
    await listed.exited;
    const rows = JSON.parse(listed.output()) as Array<{ appId: string; publicPort: number }>;
    expect(rows.find((r) => r.appId === 'inventory')?.publicPort).toBe(publicPort);
  });
});

describe('forward proxy (HTTP_PROXY at the sidecar)', () => {
  it('lets the unmodified example client call http://greeter/... through the sidecars', async () => {
    const greeter = await startSidecar({ appId: 'greeter', home, resources: {}, args: ['--app-port', '0'], app: [process.execPath, `${ROOT}/examples/forward-proxy/greeter.mjs`] });
    await greeter.waitFor(/greeter ready/);
    // The client's sidecar first (its port is what HTTP_PROXY names), then the unmodified app.
    const clientPort = await freePort();
    const sidecar = await startSidecar({ appId: 'client', home, resources: {}, args: ['--app-port', String(clientPort)] });
    const client = startProcess(process.execPath, [`${ROOT}/examples/forward-proxy/client.mjs`], { env: { APP_PORT: String(clientPort), HTTP_PROXY: sidecar.url } });
    await client.waitFor(/client ready/);
    const res = await request(`http://127.0.0.1:${clientPort}/relay?name=ada`);
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ greeting: 'hello, ada', path: '/hello?name=ada', caller: 'client' });
  });

  it('passes other hosts through unchanged, and tunnels CONNECT opaque', async () => {
    const sc = await startSidecar({ appId: 'proxyuser', home, resources: {} });
    const r = await viaProxy(sc.httpPort, `http://127.0.0.1:${plainPort}/outside?q=1`);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toEqual({ plain: true, url: '/outside?q=1', host: `127.0.0.1:${plainPort}` });
    const t = await connectTunnel(sc.httpPort, `127.0.0.1:${echoPort}`);
    expect(t.statusLine).toBe('HTTP/1.1 200 Connection Established');
    expect(t.echoed).toBe('ping through the tunnel');
  });

  it('carries WebSocket upgrades to an app id and to a passed-through host', async () => {
    await startMember('wsapp', home);
    const plainWs = await startApp('outside-ws');
    const sc = await startSidecar({ appId: 'wsuser', home, resources: {} });
    const toApp = await websocketViaProxy(sc.httpPort, 'http://wsapp/chat');
    expect(toApp).toEqual({ statusLine: 'HTTP/1.1 101 Switching Protocols', firstMessage: 'hello from wsapp at /chat' });
    const outside = await websocketViaProxy(sc.httpPort, `http://127.0.0.1:${plainWs.port}/room`);
    expect(outside).toEqual({ statusLine: 'HTTP/1.1 101 Switching Protocols', firstMessage: 'hello from outside-ws at /room' });
  });

  it('refuses pass-through and CONNECT when the Configuration denies them, but still routes app ids', async () => {
    const cfgDir = writeFolder({
      'config.yaml': `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: strict
spec:
  proxy:
    passthrough: deny
    allowedHosts: ["allowed.invalid"]
`,
    });
    await startMember('strictpeer', home);
    const sc = await startSidecar({ appId: 'strict', home, resources: {}, args: ['--config', `${cfgDir}/config.yaml`] });
    const denied = await viaProxy(sc.httpPort, `http://127.0.0.1:${plainPort}/outside`);
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.text).errorCode).toBe('ERR_DIRECT_INVOKE');
    const t = await connectTunnel(sc.httpPort, `127.0.0.1:${echoPort}`);
    expect(t.statusLine).toBe('HTTP/1.1 403 Forbidden');
    const toApp = await viaProxy(sc.httpPort, 'http://strictpeer/hello?name=cy');
    expect(toApp.status).toBe(200);
    expect(JSON.parse(toApp.text)).toMatchObject({ name: 'strictpeer', url: '/hello?name=cy' });
    expect(JSON.parse(toApp.text).headers['dapr-caller-app-id']).toBe('strict');
  });
});
