// The CA, the sentry protocol and TLS rotation on real sockets in this process: generated and
// imported CA material, SVID fields, CSR proof of possession, the sentry's authentication and
// identity, and a context swap that keeps connections in flight working.
import { createPublicKey, X509Certificate } from 'node:crypto';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority, generateCa } from '../../security/ca.js';
import { requestCertificate } from '../../security/sentry-client.js';
import { Sentry } from '../../security/sentry.js';
import { MtlsContext, peerIdentity, type Credentials } from '../../security/tls.js';
import { buildCsr, csrPublicKey, generateKey, keyPem } from '../../security/x509.js';

const pem = generateCa({ trustDomain: 'localhost' });
const ca = new CertificateAuthority(pem);

function credentials(app: string, ttlMs?: number): Credentials {
  const key = generateKey();
  const issued = ca.signWorkload({ publicKey: createPublicKey(key), spiffeId: `spiffe://public/ns/default/${app}`, ...(ttlMs ? { ttlMs } : {}) });
  return { certChain: issued.certChain, key: keyPem(key), anchors: ca.anchorsPem };
}

describe('certificate authority', () => {
  it('generates a root and an issuer like Sentry: CA certificates, a year, back-dated by the skew', () => {
    const root = new X509Certificate(pem.anchors);
    expect(root.ca).toBe(true);
    expect(ca.issuer.ca).toBe(true);
    expect(ca.issuer.checkIssued(root)).toBe(true);
    const days = (Date.parse(root.validTo) - Date.parse(root.validFrom)) / 86_400_000;
    expect(Math.round(days * 96) / 96).toBeCloseTo(365 + 15 / 1440, 2);
    expect(root.subject).toBe('O=localhost');
  });

  it('issues SVIDs: empty subject, one URI SAN, not a CA, server+client auth, 24 h by default', () => {
    const now = new Date();
    const c = new X509Certificate(ca.signWorkload({ publicKey: createPublicKey(generateKey()), spiffeId: 'spiffe://public/ns/default/a', now }).certChain);
    expect(c.subject ?? '').toBe('');
    expect(c.subjectAltName).toBe('URI:spiffe://public/ns/default/a');
    expect(c.ca).toBe(false);
    expect(c.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(c.verify(ca.issuer.publicKey)).toBe(true);
    expect(Date.parse(c.validTo) - Math.floor(now.getTime() / 1000) * 1000).toBe(86_400_000);
    expect(Math.floor(now.getTime() / 1000) * 1000 - Date.parse(c.validFrom)).toBe(15 * 60_000);
  });

  it('never issues past the issuer expiry', () => {
    const short = new CertificateAuthority(generateCa({ trustDomain: 'x', validityMs: 3_600_000 }));
    const issued = short.signWorkload({ publicKey: createPublicKey(generateKey()), spiffeId: 'spiffe://public/ns/default/a', ttlMs: 86_400_000 });
    expect(issued.notAfter.getTime()).toBe(short.notAfter.getTime());
  });

  it('also works with RSA 2048 keys', () => {
    const rsa = new CertificateAuthority(generateCa({ trustDomain: 'x', keyType: 'rsa-2048' }));
    const c = new X509Certificate(rsa.signWorkload({ publicKey: createPublicKey(generateKey('rsa-2048')), spiffeId: 'spiffe://public/ns/default/a' }).certChain);
    expect(c.verify(rsa.issuer.publicKey)).toBe(true);
  });

  it('imports an issuer chain that ends with its root (the root is dropped)', () => {
    const imported = new CertificateAuthority({ ...pem, issuerChain: pem.issuerChain + pem.anchors });
    expect(imported.issuerChainPem).toBe(ca.issuerChainPem);
  });

  it('refuses a key that does not match the issuer', () => {
    expect(() => new CertificateAuthority({ ...pem, issuerKey: keyPem(generateKey()) })).toThrow(/does not match the issuer/);
  });

  it('refuses an issuer from another root', () => {
    const other = generateCa({ trustDomain: 'other' });
    expect(() => new CertificateAuthority({ ...pem, issuerChain: other.issuerChain, issuerKey: other.issuerKey })).toThrow(/does not chain/);
  });

  it('refuses an issuer that is not a CA', () => {
    const leaf = credentials('a');
    expect(() => new CertificateAuthority({ anchors: pem.anchors, issuerChain: leaf.certChain.split('-----END CERTIFICATE-----')[0] + '-----END CERTIFICATE-----\n', issuerKey: leaf.key })).toThrow(/not a CA/);
  });

  it('verifies the CSR signature (proof of possession) and refuses a tampered request', () => {
    const key = generateKey();
    const csr = buildCsr(key);
    expect(csrPublicKey(csr).export({ type: 'spki', format: 'der' })).toEqual(createPublicKey(key).export({ type: 'spki', format: 'der' }));
    const der = Buffer.from(csr.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 5]! ^= 0xff;
    const bad = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(() => csrPublicKey(bad)).toThrow();
  });
});

describe('sentry', () => {
  let sentry: Sentry;
  const logs: string[] = [];
  const base = { anchors: ca.anchorsPem, controlPlaneTrustDomain: 'localhost', controlPlaneNamespace: 'default', namespace: 'default', trustDomain: 'public', attempts: 1 };
  beforeAll(async () => {
    sentry = await Sentry.start({ ca, port: 0, host: '127.0.0.1', trustDomain: 'localhost', namespace: 'default', workloadTtlMs: 60_000, allowedClockSkewMs: 5_000, secret: 's3cret', log: (_l, line) => logs.push(line) });
  });
  afterAll(() => sentry.close());

  it('signs a CSR with the right token: SVID for the asked app, the configured TTL', async () => {
    const c = await requestCertificate({ ...base, address: `127.0.0.1:${sentry.port}`, id: 'orders', secret: 's3cret' });
    const x = new X509Certificate(c.certChain);
    expect(x.subjectAltName).toBe('URI:spiffe://public/ns/default/orders');
    expect(Date.parse(x.validTo) - Date.parse(x.validFrom)).toBe(65_000);
    expect(createPublicKey(c.key).export({ type: 'spki', format: 'der' })).toEqual(x.publicKey.export({ type: 'spki', format: 'der' }));
  });

  it('refuses a wrong token', async () => {
    await expect(requestCertificate({ ...base, address: `127.0.0.1:${sentry.port}`, id: 'orders', secret: 'guess' })).rejects.toThrow(/401.*invalid token/);
  });

  it('refuses a request without a token', async () => {
    await expect(requestCertificate({ ...base, address: `127.0.0.1:${sentry.port}`, id: 'orders', secret: undefined })).rejects.toThrow(/401/);
  });

  it('refuses an app id with a dot', async () => {
    await expect(requestCertificate({ ...base, address: `127.0.0.1:${sentry.port}`, id: 'a.b', secret: 's3cret' })).rejects.toThrow(/400.*invalid app id/);
  });

  it('the sidecar refuses a sentry whose identity is not the expected control plane one', async () => {
    await expect(requestCertificate({ ...base, controlPlaneTrustDomain: 'cluster.local', address: `127.0.0.1:${sentry.port}`, id: 'orders', secret: 's3cret' })).rejects.toThrow(/identity/);
  });
});

describe('sentry CA expiry', () => {
  it('warns when the CA expires within 30 days', async () => {
    const lines: string[] = [];
    const short = new CertificateAuthority(generateCa({ trustDomain: 'x', validityMs: 10 * 86_400_000 }));
    const s = await Sentry.start({ ca: short, port: 0, host: '127.0.0.1', trustDomain: 'localhost', namespace: 'default', workloadTtlMs: 60_000, allowedClockSkewMs: 5_000, secret: undefined, log: (l, line) => lines.push(`${l} ${line}`) });
    await s.close();
    expect(lines.join('\n')).toMatch(/warn the CA \(root or issuer\) expires on .* in 9\.\d|warn the CA \(root or issuer\) expires on .* in 10\.0/);
  });

  it('is silent for a CA with a year to go', async () => {
    const lines: string[] = [];
    const s = await Sentry.start({ ca, port: 0, host: '127.0.0.1', trustDomain: 'localhost', namespace: 'default', workloadTtlMs: 60_000, allowedClockSkewMs: 5_000, secret: undefined, log: (l, line) => lines.push(`${l} ${line}`) });
    await s.close();
    expect(lines.filter((l) => l.includes('expires'))).toEqual([]);
  });
});

describe('rotation', () => {
  it('new connections get the new certificate; a connection in flight keeps working', async () => {
    const server = new MtlsContext(credentials('bob', 3_600_000));
    const client = new MtlsContext(credentials('alice'));
    const seen: string[] = [];
    const https = createServer(server.serverOptions(), (req, res) => {
      // Which server certificate this connection was set up with.
      const tls = req.socket as import('node:tls').TLSSocket;
      seen.push(tls.getCertificate()?.serialNumber ?? '');
      setTimeout(() => res.end('ok'), Number(new URL(req.url!, 'http://x').searchParams.get('ms') ?? 0));
    });
    server.attach(https);
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', () => r()));
    const port = (https.address() as AddressInfo).port;
    const pool = new Pool(`https://127.0.0.1:${port}`, { connect: client.connector({ appId: 'bob', namespace: 'default' }) as never, connections: 1 });
    try {
      expect((await pool.request({ path: '/', method: 'GET' })).statusCode).toBe(200);
      const slow = pool.request({ path: '/?ms=300', method: 'GET' });
      await new Promise((r) => setTimeout(r, 50));
      server.rotate(credentials('bob', 3_600_000));
      client.rotate(credentials('alice'));
      const inFlight = await slow;
      expect(inFlight.statusCode).toBe(200);
      expect(await inFlight.body.text()).toBe('ok');
      const fresh = new Pool(`https://127.0.0.1:${port}`, { connect: client.connector({ appId: 'bob', namespace: 'default' }) as never });
      expect((await fresh.request({ path: '/', method: 'GET' })).statusCode).toBe(200);
      await fresh.close();
      expect(new Set(seen).size).toBe(2);
      expect(seen[0]).toBe(seen[1]);
    } finally {
      await pool.close();
      https.close();
    }
  });

  it('resumed TLS sessions keep the verified caller identity', async () => {
    const server = new MtlsContext(credentials('bob'));
    const client = new MtlsContext(credentials('alice'));
    const https = createServer(server.serverOptions(), (req, res) => {
      const sock = req.socket as import('node:tls').TLSSocket;
      res.end(JSON.stringify({ reused: sock.isSessionReused(), id: peerIdentity(sock)?.uri ?? null }));
    });
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', () => r()));
    const connect = client.connector({ appId: 'bob', namespace: 'default' });
    const seen: Array<{ reused: boolean; id: string }> = [];
    try {
      for (let i = 0; i < 3; i++) {
        const pool = new Pool(`https://127.0.0.1:${(https.address() as AddressInfo).port}`, { connect: connect as never });
        seen.push((await (await pool.request({ path: '/', method: 'GET' })).body.json()) as { reused: boolean; id: string });
        await pool.close();
      }
    } finally {
      https.close();
    }
    expect(seen.map((x) => x.id)).toEqual(Array(3).fill('spiffe://public/ns/default/alice'));
    expect(seen[0]!.reused).toBe(false);
    expect(seen.slice(1).some((x) => x.reused)).toBe(true);
  });

  it('refuses to rotate to a certificate for another identity', () => {
    const ctx = new MtlsContext(credentials('bob'));
    expect(() => ctx.rotate(credentials('mallory'))).toThrow(/does not carry/);
  });
});
