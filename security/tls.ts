// TLS contexts for the sidecars' mutual TLS. The server side requires a client certificate
// chaining to the trust anchors (any SPIFFE ID; authorisation is the ACL's job); the client
// side presents our SVID and accepts a server only if its SVID names the app it meant to call
// (/ns/<namespace>/<appId>, any trust domain, no host name check). Rotation swaps the contexts
// for new connections only: servers get setSecureContext, clients build each new connection
// from the current context; connections in flight keep theirs. Session caches are dropped on
// rotation so nothing resumes under settings that no longer hold.
import { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, type ConnectionOptions, type PeerCertificate, type SecureContext, type TLSSocket, type TlsOptions } from 'node:tls';
import { AttachedServers } from './attached-servers.js';
import { svidIdentity, type SpiffeId } from './identity.js';

export interface Credentials {
  /** Leaf then intermediates, PEM. */
  certChain: string;
  /** Private key, PEM. */
  key: string;
  /** Trust anchors, PEM. */
  anchors: string;
}

export interface Expected {
  appId: string;
  namespace: string;
}

/** Node's checkServerIdentity replacement: the server's SVID must name the intended app. */
export function checkPeerIdentity(expected: Expected): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const id = svidIdentity({ subjectAltName: cert.subjectaltname, ca: cert.ca });
    if (typeof id === 'string') return new Error(`peer certificate is not a workload SVID: ${id}`);
    if (id.appId !== expected.appId || id.namespace !== expected.namespace) {
      return new Error(`peer identity ${id.uri} is not the app ${expected.appId} in namespace ${expected.namespace}`);
    }
    return undefined;
  };
}

const peerIds = new WeakMap<Socket, SpiffeId | null>();

/** The verified caller identity of a mutual-TLS socket (cached per connection), or undefined. */
export function peerIdentity(socket: Socket): SpiffeId | undefined {
  const cached = peerIds.get(socket);
  if (cached !== undefined) return cached ?? undefined;
  const tls = socket as TLSSocket;
  let id: SpiffeId | null = null;
  if (tls.encrypted && tls.authorized) {
    const cert = tls.getPeerCertificate();
    const parsed = cert && cert.raw ? svidIdentity({ subjectAltName: cert.subjectaltname, ca: cert.ca }) : 'no certificate';
    if (typeof parsed !== 'string') id = parsed;
  }
  peerIds.set(socket, id);
  return id ?? undefined;
}

type Connector = (
  options: { hostname: string; host?: string; port: string; servername?: string | null; protocol: string },
  callback: (err: Error | null, socket: Socket | null) => void,
) => void;

export class MtlsContext {
  private creds: Credentials;
  private secure: SecureContext;
  private readonly servers = new AttachedServers(() => {
    for (const fn of this.detached.splice(0)) fn();
  });
  private readonly sessions = new Map<string, Buffer>();
  private readonly listeners: Array<(c: Credentials) => void> = [];
  private readonly detached: Array<() => void> = [];
  notAfter: Date;
  readonly identity: SpiffeId;

  constructor(creds: Credentials) {
    this.creds = creds;
    this.secure = createSecureContext(this.contextOptions());
    this.notAfter = leafNotAfter(creds.certChain);
    const id = svidIdentity(new X509Certificate(creds.certChain));
    if (typeof id === 'string') throw new Error(`the workload certificate is not a SPIFFE SVID: ${id}`);
    this.identity = id;
  }

  get credentials(): Credentials {
    return this.creds;
  }

  private contextOptions(): TlsOptions {
    return { ca: this.creds.anchors, cert: this.creds.certChain, key: this.creds.key, minVersion: 'TLSv1.2' };
  }

  /** Options for a server that requires and verifies client certificates. */
  serverOptions(): TlsOptions {
    return { ...this.contextOptions(), requestCert: true, rejectUnauthorized: true };
  }

  /** Keeps the server's context current across rotations. */
  attach(server: NodeJS.EventEmitter): void {
    const tls = this.servers.attach(server);
    // A client certificate that chains to the anchors but is not a workload SVID (a CA, no or
    // several SPIFFE URIs, a malformed ID) is refused as go-spiffe refuses it: at the handshake.
    tls.on('secureConnection', (sock: TLSSocket) => {
      if (!peerIdentity(sock)) sock.destroy();
    });
  }

  /** Called once the last attached server has closed (the sidecar is shutting down). */
  onDetached(fn: () => void): void {
    this.detached.push(fn);
  }

  onRotate(fn: (c: Credentials) => void): void {
    this.listeners.push(fn);
  }

  /** New credentials: every later connection (either direction) uses them. */
  rotate(creds: Credentials): void {
    const id = svidIdentity(new X509Certificate(creds.certChain));
    if (typeof id === 'string' || id.uri !== this.identity.uri) throw new Error(`rotated certificate does not carry ${this.identity.uri}`);
    this.creds = creds;
    this.secure = createSecureContext(this.contextOptions());
    this.notAfter = leafNotAfter(creds.certChain);
    this.sessions.clear();
    this.servers.update(this.serverOptions());
    for (const fn of this.listeners) fn(creds);
  }

  /** Client options for one connection to `expected` (for raw sockets such as upgrade tunnels). */
  clientOptions(expected: Expected): ConnectionOptions {
    return { secureContext: this.secure, checkServerIdentity: checkPeerIdentity(expected), ALPNProtocols: ['http/1.1'] };
  }

  /** An undici connector: each new connection uses the credentials current at that moment. */
  connector(expected: Expected): Connector {
    const check = checkPeerIdentity(expected);
    const key = `${expected.namespace}/${expected.appId}`;
    return (opts, callback) => {
      const sessionKey = `${key}@${opts.hostname}:${opts.port}`;
      const session = this.sessions.get(sessionKey);
      const socket = tlsConnect({
        host: opts.hostname,
        port: Number(opts.port),
        secureContext: this.secure,
        checkServerIdentity: check,
        ALPNProtocols: ['http/1.1'],
        ...(session ? { session } : {}),
      });
      socket.setNoDelay(true);
      const generation = this.secure;
      socket.on('session', (s: Buffer) => {
        if (generation === this.secure) this.sessions.set(sessionKey, s);
      });
      const onError = (err: Error): void => {
        this.sessions.delete(sessionKey);
        callback(err, null);
      };
      socket.once('error', onError);
      socket.once('secureConnect', () => {
        socket.off('error', onError);
        callback(null, socket);
      });
    };
  }
}

export function leafNotAfter(chainPem: string): Date {
  return new Date(new X509Certificate(chainPem).validTo);
}
