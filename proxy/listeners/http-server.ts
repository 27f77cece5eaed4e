// A node:http server for one listener: one Exchange per request through a composed handler,
// long keep-alive (SDK clients reuse sockets without idle timeouts), in-flight tracking so
// shutdown can drain, and a clear error when the port is taken. With `tls` it serves HTTPS
// (the internal listener's mutual TLS, HTTPS fronting). Every listener is hardened the same way:
// header size and count limits, a deadline for the request head (slow-loris), a TLS handshake
// deadline.
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TlsOptions } from 'node:tls';
import { Exchange, type Handler } from '../../core/http.js';

export const LISTENER_LIMITS = {
  /** Bytes of request line + headers (Node's default, stated so it cannot drift). */
  maxHeaderSize: 16 * 1024,
  /** More header fields than this: 431. */
  maxHeaders: 100,
  /** The whole request head must arrive within this (slow clients dribbling headers). */
  headersTimeoutMs: 66_000,
  /** How often Node checks the head deadline. */
  checkIntervalMs: 5_000,
  tlsHandshakeTimeoutMs: 10_000,
} as const;

export class HttpListener {
  readonly server: Server;
  private inFlight = 0;
  private drained: (() => void) | undefined;

  constructor(
    handler: Handler,
    private readonly maxBodyBytes: number,
    tls?: TlsOptions,
  ) {
    const L = LISTENER_LIMITS;
    const options = { keepAliveTimeout: 65_000, requestTimeout: 0, maxHeaderSize: L.maxHeaderSize, connectionsCheckingInterval: L.checkIntervalMs };
    const onRequest = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void => {
      if (req.rawHeaders.length > 2 * L.maxHeaders) {
        res.writeHead(431, { connection: 'close' }).end();
        return;
      }
      this.inFlight++;
      // Shared listener (no closure per request): a response emits 'close' once.
      res.on('close', this.onResponseClose);
      void this.serve(handler, new Exchange(req, res, this.maxBodyBytes));
    };
    this.server = tls ? createTlsServer({ ...options, ...tls, handshakeTimeout: L.tlsHandshakeTimeoutMs }, onRequest) : createServer(options, onRequest);
    // One more than the limit is parsed so that going over it can be refused, not truncated.
    this.server.maxHeadersCount = L.maxHeaders + 1;
    this.server.headersTimeout = L.headersTimeoutMs;
  }

  private readonly onResponseClose = (): void => {
    if (--this.inFlight === 0) this.drained?.();
  };

  private async serve(handler: Handler, ex: Exchange): Promise<void> {
    try {
      await handler(ex);
    } catch (err) {
      // The rescue layer answers errors; this only guards against a failure inside it.
      if (!ex.res.headersSent) ex.res.writeHead(500).end();
      else ex.res.destroy(err as Error);
    }
  }

  /** Listens and returns the bound port; `flag` names the option in the error if it is taken. */
  listen(port: number, host: string, flag: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(new Error(err.code === 'EADDRINUSE' ? `${flag} ${port}: port is already in use` : `${flag} ${port}: ${err.message}`));
      };
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then closes the rest. */
  async close(graceMs: number): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    if (this.inFlight > 0) {
      await Promise.race([
        new Promise<void>((resolve) => (this.drained = resolve)),
        new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref()),
      ]);
    }
    this.server.closeAllConnections();
    await closed;
  }
}
