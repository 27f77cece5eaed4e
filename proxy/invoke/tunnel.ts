// Opaque byte tunnels: an upgrade request (WebSocket) re-sent as raw HTTP/1.1 to the next hop
// with the two sockets spliced afterwards, and CONNECT tunnels to a host:port. Nothing is
// parsed after the request head; back-pressure is the sockets' own (pipe).
import { connect as connectTcp, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';

export interface TunnelTarget {
  host: string;
  port: number;
  /** Client TLS (https targets). */
  tls?: ConnectionOptions | undefined;
}

/** Opens a connection to the target; rejects with the connect error. */
export function dial(target: TunnelTarget): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = target.tls
      ? connectTls({ ...target.tls, host: target.host, port: target.port, servername: target.tls.servername ?? target.host })
      : connectTcp({ host: target.host, port: target.port });
    const ready = target.tls ? 'secureConnect' : 'connect';
    const onError = (err: Error): void => {
      sock.destroy();
      reject(err);
    };
    sock.once('error', onError);
    sock.once(ready, () => {
      sock.off('error', onError);
      sock.setNoDelay(true);
      resolve(sock);
    });
  });
}

/** Splices two sockets both ways; either side closing closes the other. */
export function splice(a: Duplex, b: Duplex): void {
  a.pipe(b);
  b.pipe(a);
  const end = (): void => {
    a.destroy();
    b.destroy();
  };
  a.once('error', end);
  b.once('error', end);
  a.once('close', end);
  b.once('close', end);
}

/** The raw request head for an upgrade, with `Connection: Upgrade` and `Upgrade` restored. */
export function upgradeHead(method: string, path: string, host: string, upgrade: string, headers: Record<string, string | string[]>): string {
  let text = `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\nconnection: Upgrade\r\nupgrade: ${upgrade}\r\n`;
  for (const k in headers) {
    const v = headers[k]!;
    if (Array.isArray(v)) for (const one of v) text += `${k}: ${one}\r\n`;
    else text += `${k}: ${v}\r\n`;
  }
  return text + '\r\n';
}
