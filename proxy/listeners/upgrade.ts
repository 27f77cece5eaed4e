// Upgrade requests (WebSocket and friends) through the same handler stack as plain requests.
// node:http hands an upgrade over as a bare socket; we give it a ServerResponse on that socket
// so every layer (token, ACL, tracing, errors) works unchanged, and the end handler that
// forwards it takes the socket over with `takeOverSocket` and splices it to the next hop.
import { ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { Exchange, type Handler } from '../../core/http.js';

const HEADS = new WeakMap<IncomingMessage, Buffer>();
const TAKEN = new WeakSet<IncomingMessage>();

/** An upgrade request handed over as a socket (not CONNECT, which the forward proxy handles). */
export function isUpgrade(req: IncomingMessage): boolean {
  return req.headers.upgrade !== undefined && req.method !== 'CONNECT' && HEADS.has(req);
}

/** Detaches the client socket from its ServerResponse; returns it and the bytes read past the head. */
export function takeOverSocket(ex: Exchange): { socket: Duplex; head: Buffer } {
  const socket = ex.req.socket;
  TAKEN.add(ex.req);
  ex.res.detachSocket(socket);
  return { socket, head: HEADS.get(ex.req) ?? Buffer.alloc(0) };
}

export class UpgradeTracker {
  private readonly sockets = new Set<Duplex>();

  /** Serves `server`'s upgrade and CONNECT requests through `handler`. */
  serve(server: Server, handler: Handler, maxBodyBytes: number): void {
    const onTakeover = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
      HEADS.set(req, head);
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      const res = new ServerResponse(req);
      res.shouldKeepAlive = false;
      res.assignSocket(socket as never);
      // A layer answered instead of forwarding (an error, a refusal): close after the answer.
      res.once('finish', () => {
        if (!TAKEN.has(req)) socket.end();
      });
      handler(new Exchange(req, res, maxBodyBytes)).catch(() => socket.destroy());
    };
    server.on('upgrade', onTakeover);
    server.on('connect', onTakeover);
  }

  track(socket: Duplex): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  closeAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}
