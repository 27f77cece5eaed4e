// `bulwark sentry`: the CA service. It holds the issuer key, serves HTTPS with its own SVID
// (spiffe://<trustDomain>/ns/<namespace>/dapr-sentry, renewed at half its life) and signs
// workload CSRs (format and authentication: sentry-protocol.ts).
import { createPublicKey } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { CA_DEFAULTS, type CertificateAuthority } from './ca.js';
import { DEFAULT_NAMESPACE, DEFAULT_TRUST_DOMAIN, formatSpiffeId } from './identity.js';
import { SENTRY_APP_ID, SIGN_PATH, tokenMatches, type SignRequest, type SignResponse } from './sentry-protocol.js';
import { csrPublicKey, generateKey, keyPem } from './x509.js';

export interface SentryOptions {
  ca: CertificateAuthority;
  port: number;
  host: string;
  /** The sentry's own trust domain (Dapr's --trust-domain, default localhost). */
  trustDomain: string;
  namespace: string;
  workloadTtlMs: number;
  allowedClockSkewMs: number;
  /** Shared secret; undefined: unauthenticated, like Dapr's self-hosted insecure validator. */
  secret: string | undefined;
  log: (level: 'info' | 'warn', line: string) => void;
}

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;

export class Sentry {
  private renewTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  issued = 0;

  private constructor(
    private readonly o: SentryOptions,
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(o: SentryOptions): Promise<Sentry> {
    const server = createServer({ ...ownCredentials(o), minVersion: 'TLSv1.2', requestTimeout: 10_000, headersTimeout: 5_000 });
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code === 'EADDRINUSE' ? `--port ${o.port}: port is already in use` : err.message)));
      server.listen(o.port, o.host, () => resolve((server.address() as AddressInfo).port));
    });
    const sentry = new Sentry(o, server, port);
    server.on('request', (req, res) => {
      const send = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      if (req.method !== 'POST' || req.url !== SIGN_PATH) return send(404, { error: `only POST ${SIGN_PATH}` });
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 64 * 1024) req.destroy();
        else chunks.push(c);
      });
      req.on('end', () => {
        try {
          const r = sentry.sign(JSON.parse(Buffer.concat(chunks).toString('utf8')) as SignRequest);
          send(200, r);
        } catch (err) {
          const e = err as Error & { status?: number };
          o.log('warn', `refused a certificate request: ${e.message}`);
          send(e.status ?? 400, { error: e.message });
        }
      });
    });
    // Its own certificate is short-lived like any workload's: renew at half its life.
    sentry.renewTimer = setInterval(() => server.setSecureContext(ownCredentials(o)), ownTtl(o) / 2);
    sentry.renewTimer.unref();
    // Like Sentry: from 30 days before the CA runs out, say so every hour.
    sentry.expiryTimer = setInterval(() => sentry.warnExpiry(), 3_600_000);
    sentry.expiryTimer.unref();
    sentry.warnExpiry();
    return sentry;
  }

  private warnExpiry(): void {
    const soonest = Math.min(this.o.ca.notAfter.getTime(), ...this.o.ca.anchors.map((a) => Date.parse(a.validTo)));
    const days = (soonest - Date.now()) / 86_400_000;
    if (days < 30) this.o.log('warn', `the CA (root or issuer) expires on ${new Date(soonest).toISOString()}, in ${Math.max(0, days).toFixed(1)} days: rotate it (bulwark cert init --overwrite, or import a new root and issuer) and restart the sentry and the sidecars`);
  }

  sign(r: SignRequest): SignResponse {
    const fail = (status: number, msg: string): never => {
      throw Object.assign(new Error(msg), { status });
    };
    if (!r || typeof r !== 'object') fail(400, 'the request must be a JSON object');
    if (typeof r.csr !== 'string' || typeof r.id !== 'string') fail(400, 'csr and id are required strings');
    const namespace = r.namespace || DEFAULT_NAMESPACE;
    const trustDomain = r.trustDomain || DEFAULT_TRUST_DOMAIN;
    if (!r.id || r.id.includes('.') || r.id.length > 64 || /[/\s]/.test(r.id)) fail(400, `invalid app id ${JSON.stringify(r.id)}: non-empty, at most 64 characters, no dots, slashes or spaces`);
    if (!NAME.test(namespace)) fail(400, `invalid namespace ${JSON.stringify(namespace)}`);
    if (!TRUST_DOMAIN.test(trustDomain)) fail(400, `invalid trust domain ${JSON.stringify(trustDomain)}`);
    if (this.o.secret !== undefined) {
      if (typeof r.timestamp !== 'number' || Math.abs(Date.now() / 1000 - r.timestamp) * 1000 > this.o.allowedClockSkewMs) fail(401, 'timestamp missing or outside the allowed clock skew');
      if (!tokenMatches(this.o.secret, { ...r, namespace, trustDomain })) fail(401, 'invalid token');
    }
    let publicKey;
    try {
      publicKey = csrPublicKey(r.csr);
    } catch (err) {
      fail(400, `invalid certificate request: ${(err as Error).message}`);
    }
    const spiffeId = formatSpiffeId(trustDomain, namespace, r.id);
    const issued = this.o.ca.signWorkload({ publicKey: publicKey!, spiffeId, ttlMs: this.o.workloadTtlMs, allowedClockSkewMs: this.o.allowedClockSkewMs });
    this.issued++;
    this.o.log('info', `issued ${spiffeId}, valid until ${issued.notAfter.toISOString()}`);
    return { certChain: issued.certChain, trustAnchors: this.o.ca.anchorsPem, validUntil: issued.notAfter.toISOString() };
  }

  close(): Promise<void> {
    clearInterval(this.renewTimer);
    clearInterval(this.expiryTimer);
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

const ownTtl = (o: SentryOptions): number => Math.max(o.workloadTtlMs, CA_DEFAULTS.workloadTtlMs);

function ownCredentials(o: SentryOptions): { key: string; cert: string } {
  const key = generateKey();
  const issued = o.ca.signServer(createPublicKey(key), { uris: [formatSpiffeId(o.trustDomain, o.namespace, SENTRY_APP_ID)], dns: ['localhost'], ips: ['127.0.0.1', '::1'] }, ownTtl(o));
  return { key: keyPem(key), cert: issued.certChain };
}
