// HTTPS for the public fronting listener from certificate files that may be replaced while the
// sidecar runs (a renewed certificate, as cert-manager or certbot write them). The files are
// polled by stat; after a change settles, the whole set is read and checked by building a
// secure context from it (a broken PEM or a key that does not match the certificate fails
// there), and only then swapped into the servers with setSecureContext: connections already
// open keep their session, new ones get the new certificate. A set that fails the check is
// logged with the reason and the previous certificate keeps serving.
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createSecureContext, type TlsOptions } from 'node:tls';
import { AttachedServers } from './attached-servers.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** Client certificates are required and must chain to these anchors. */
  clientCaFile?: string;
}

export interface TlsReloadLog {
  info(msg: string): void;
  warn(msg: string): void;
}

/** How often the files are checked, and how long a change must rest before it is read. */
export const TLS_RELOAD = { pollMs: 1000, settleMs: 300 } as const;

export class ReloadingTls {
  private current: TlsOptions;
  private readonly servers = new AttachedServers(() => this.close());
  private settle: NodeJS.Timeout | undefined;
  private watching = false;

  constructor(
    private readonly files: TlsFiles,
    private readonly log: TlsReloadLog,
  ) {
    // At start-up a bad file is an error the operator must see at once.
    this.current = this.read();
  }

  /** Options for the server's first secure context. */
  serverOptions(): TlsOptions {
    return this.current;
  }

  /** The certificate being served (for logs and tests). */
  get certificate(): X509Certificate {
    return new X509Certificate(this.current.cert as string);
  }

  /** Keeps `server` on the current files until it closes; starts watching on first use. */
  attach(server: NodeJS.EventEmitter): void {
    this.servers.attach(server);
    if (!this.watching) {
      this.watching = true;
      for (const f of this.paths()) watchFile(f, { interval: TLS_RELOAD.pollMs, persistent: false }, this.onChange);
    }
  }

  private paths(): string[] {
    return [this.files.certFile, this.files.keyFile, ...(this.files.clientCaFile ? [this.files.clientCaFile] : [])];
  }

  // A certificate and its key are usually written one after the other: wait until both rest.
  private readonly onChange = (now: Stats, before: Stats): void => {
    if (now.mtimeMs === before.mtimeMs && now.size === before.size && now.ino === before.ino) return;
    clearTimeout(this.settle);
    this.settle = setTimeout(() => this.reload(), TLS_RELOAD.settleMs);
    this.settle.unref();
  };

  /** Reads the files again; swaps them in if they make a valid context, else keeps the old one. */
  reload(): boolean {
    let next: TlsOptions;
    try {
      next = this.read();
    } catch (err) {
      this.log.warn(`public TLS: the changed files were not loaded, the previous certificate keeps serving: ${(err as Error).message}`);
      return false;
    }
    if (next.cert === this.current.cert && next.key === this.current.key && next.ca === this.current.ca) return false;
    this.current = next;
    this.servers.update(next);
    const cert = this.certificate;
    this.log.info(`public TLS: certificate reloaded from ${this.files.certFile} (serial ${cert.serialNumber}, valid until ${new Date(cert.validTo).toISOString()})`);
    return true;
  }

  private read(): TlsOptions {
    const f = this.files;
    const read = (file: string, what: string): string => {
      try {
        return readFileSync(file, 'utf8');
      } catch (err) {
        throw new Error(`public TLS ${what} ${file}: ${(err as Error).message}`, { cause: err });
      }
    };
    const out: TlsOptions = { cert: read(f.certFile, 'certificate'), key: read(f.keyFile, 'key'), minVersion: 'TLSv1.2' };
    if (f.clientCaFile) Object.assign(out, { ca: read(f.clientCaFile, 'client CA'), requestCert: true, rejectUnauthorized: true });
    try {
      new X509Certificate(out.cert as string);
      createSecureContext(out); // throws on a bad PEM or a key that does not match the certificate
    } catch (err) {
      throw new Error(`public TLS certificate ${f.certFile} / key ${f.keyFile}: ${(err as Error).message}`, { cause: err });
    }
    return out;
  }

  close(): void {
    clearTimeout(this.settle);
    if (!this.watching) return;
    this.watching = false;
    for (const f of this.paths()) unwatchFile(f, this.onChange);
  }
}
