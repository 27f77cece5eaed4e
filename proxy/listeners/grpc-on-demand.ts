// The gRPC API port (--dapr-grpc-port) is bound at start-up with the other listeners, so it
// accepts connections from the moment the sidecar reports healthy; the gRPC stack behind it
// (grpc-js, proto-loader, reflection, the parsed durabletask .proto: about a third of a start-up
// and tens of MB) is loaded when the first connection arrives. A sidecar whose app never speaks
// gRPC never pays for it. Connections accepted while it loads are held paused, nothing read from
// them, and handed over once it is ready: a client sees a slower first answer, never a refusal.
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../../core/component.js';

/** What the loaded listener (./grpc-server.ts) offers: serve an accepted connection, close. */
export interface GrpcServing {
  serve(socket: Socket): void;
  close(graceMs: number): Promise<void>;
}

export class OnDemandGrpcListener {
  private readonly server: Server;
  private loading: Promise<GrpcServing | undefined> | undefined;
  private closed = false;

  constructor(
    private readonly load: () => Promise<GrpcServing>,
    private readonly logger: Logger,
  ) {
    this.server = createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
  }

  /** True once the first connection made it load the gRPC stack. */
  get isLoaded(): boolean {
    return this.loading !== undefined;
  }

  private accept(socket: Socket): void {
    this.loading ??= this.load().catch((err: unknown) => {
      this.logger.error(`gRPC API could not start: ${(err as Error).message}`);
      return undefined;
    });
    void this.loading.then((grpc) => {
      if (!grpc || this.closed) {
        socket.destroy();
        return;
      }
      grpc.serve(socket);
      // pauseOnConnect left the socket not reading; HTTP/2 has taken it over, so reads go there.
      socket.resume();
    });
  }

  listen(port: number, address: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new Error(`--dapr-grpc-port ${port}: ${err.code === 'EADDRINUSE' ? 'port is already in use' : err.message}`)),
      );
      this.server.listen(port, address, () => resolve((this.server.address() as { port: number }).port));
    });
  }

  /** Stops accepting; a loaded gRPC server drains its calls for up to `graceMs`. */
  async close(graceMs: number): Promise<void> {
    this.closed = true;
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const grpc = await this.loading;
    await grpc?.close(graceMs);
    await stopped;
  }
}
