// A node:http server for one listener: one Exchange per request through a composed handler,
// long keep-alive (SDK clients reuse sockets without idle timeouts), in-flight tracking so
// shutdown can drain, and a clear error when the port is taken.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Exchange, type Handler } from '../../core/http.js';

export class HttpListener {
  readonly server: Server;
  private inFlight = 0;
  private drained: (() => void) | undefined;

  constructor(
    handler: Handler,
    private readonly maxBodyBytes: number,
  ) {
    this.server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => {
      this.inFlight++;
      res.once('close', () => {
        if (--this.inFlight === 0) this.drained?.();
      });
      handler(new Exchange(req, res, this.maxBodyBytes)).catch((err: unknown) => {
        // The rescue layer answers errors; this only guards against a failure inside it.
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy(err as Error);
      });
    });
    this.server.headersTimeout = 66_000;
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
