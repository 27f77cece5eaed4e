// TLS servers kept on one changing set of options: each attached server gets new options with
// setSecureContext (connections already open keep theirs), and when the last one has closed,
// `onEmpty` runs. Used by the mTLS workload context and by reloading certificate files.
import type { Server, TlsOptions } from 'node:tls';

export class AttachedServers {
  private readonly servers = new Set<Server>();

  constructor(private readonly onEmpty: () => void) {}

  /** Adds a TLS server (anything else is refused) and returns it as one. */
  attach(server: NodeJS.EventEmitter): Server {
    const tls = server as Server;
    if (typeof tls.setSecureContext !== 'function') throw new Error('attach: not a TLS server');
    this.servers.add(tls);
    tls.once('close', () => {
      this.servers.delete(tls);
      if (this.servers.size === 0) this.onEmpty();
    });
    return tls;
  }

  update(options: TlsOptions): void {
    for (const s of this.servers) s.setSecureContext(options);
  }
}
