// Certificates and a sentry for the security suites: a CA written into a BULWARK_HOME the
// sidecars share, a real `bulwark sentry` process, and direct mutual-TLS clients that present
// whatever certificate a test wants (another CA's, an expired one, another trust domain).
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { CertificateAuthority, generateCa, readCaFiles, writeCa } from '../../security/ca.js';
import { generateKey, keyPem } from '../../security/x509.js';
import { freePort } from '../../cli/free-port.js';
import { CLI, startProcess, writeFolder, type Proc } from './processes.js';

export interface SentryProc extends Proc {
  port: number;
  address: string;
}

/** `bulwark cert init` into home/certs (the real CLI). */
export async function certInit(home: string): Promise<CertificateAuthority> {
  const p = startProcess(process.execPath, [CLI, 'cert', 'init'], { env: { BULWARK_HOME: home } });
  const { code } = await p.exited;
  if (code !== 0) throw new Error(`cert init failed: ${p.output()}`);
  return new CertificateAuthority(readCaFiles(join(home, 'certs'))!);
}

export async function startSentry(home: string, mtls: { workloadCertTTL?: string; allowedClockSkew?: string } = {}, atPort?: number): Promise<SentryProc> {
  const port = atPort ?? (await freePort());
  const args = [CLI, 'sentry', '--port', String(port)];
  if (Object.keys(mtls).length > 0) {
    const lines = Object.entries(mtls).map(([k, v]) => `    ${k}: ${v}`).join('\n');
    const dir = writeFolder({ 'sentry.yaml': `apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: daprsystem\nspec:\n  mtls:\n    enabled: true\n${lines}\n` });
    args.push('--config', join(dir, 'sentry.yaml'));
  }
  const p = startProcess(process.execPath, args, { env: { BULWARK_HOME: home } });
  await p.waitFor(/sentry listening on/);
  return { ...p, port, address: `127.0.0.1:${port}` };
}

export function anchors(home: string): string {
  return readFileSync(join(home, 'certs', 'ca.crt'), 'utf8');
}

export interface ClientCert {
  cert: string;
  key: string;
}

/** A certificate for `spiffe://<trustDomain>/ns/<namespace>/<appId>` from `ca`. */
export function svid(ca: CertificateAuthority, uri: string, opts: { ttlMs?: number; now?: Date } = {}): ClientCert {
  const key = generateKey();
  const issued = ca.signWorkload({ publicKey: createPublicKey(key), spiffeId: uri, ...(opts.ttlMs ? { ttlMs: opts.ttlMs } : {}), ...(opts.now ? { now: opts.now } : {}), allowedClockSkewMs: 0 });
  return { cert: issued.certChain, key: keyPem(key) };
}

/** Another, unrelated CA (a peer "signed by another CA"). */
export function foreignCa(): CertificateAuthority {
  return new CertificateAuthority(generateCa({ trustDomain: 'elsewhere' }));
}

export function writeForeignCa(dir: string): CertificateAuthority {
  const pem = generateCa({ trustDomain: 'elsewhere' });
  writeCa(dir, pem);
  return new CertificateAuthority(pem);
}

/**
 * One GET straight to a sidecar's internal port over TLS with `client` (or none), trusting
 * `trust` for the server; resolves with the status and body, rejects if the handshake or the
 * connection fails.
 */
export async function directCall(port: number, path: string, trust: string, client: ClientCert | undefined, method = 'GET'): Promise<{ status: number; body: string }> {
  const pool = new Pool(`https://127.0.0.1:${port}`, {
    connect: { ca: trust, ...(client ? { cert: client.cert, key: client.key } : {}), checkServerIdentity: () => undefined },
  });
  try {
    const res = await pool.request({ method: method as 'GET', path });
    return { status: res.statusCode, body: await res.body.text() };
  } finally {
    await pool.destroy();
  }
}
