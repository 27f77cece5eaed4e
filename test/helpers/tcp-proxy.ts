// A loopback TCP forwarder that a test can cut and restore, to play a broker going down and
// coming back without touching the shared local services. `cut()` stops listening and destroys
// every forwarded connection; `restore()` listens again on the same port.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll } from 'vitest';

export interface TcpProxy {
  port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

const open = new Set<TcpProxy>();
afterAll(async () => {
  await Promise.all([...open].map((p) => p.close()));
});

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = connect({ host: targetHost, port: targetPort });
        sockets.add(client);
        sockets.add(upstream);
        const drop = (): void => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        server = s;
        resolve((s.address() as { port: number }).port);
      });
    });
  const stop = async (): Promise<void> => {
    const s = server;
    server = undefined;
    for (const sock of sockets) sock.destroy();
    sockets.clear();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  const port = await listen(0);
  const proxy: TcpProxy = {
    port,
    cut: stop,
    async restore() {
      if (!server) await listen(port);
    },
    async close() {
      open.delete(proxy);
      await stop();
    },
  };
  open.add(proxy);
  return proxy;
}
