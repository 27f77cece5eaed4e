// The certificate authority: a self-signed root and an issuer it signs, generated like Dapr's
// Sentry defaults (365 days, NotBefore back-dated by the clock-skew allowance) or imported
// from ca.crt / issuer.crt / issuer.key; it signs workload certificates (SPIFFE SVIDs) and
// server certificates. Only the CA process holds the issuer key.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { buildCertificate, generateKey, keyId, keyPem, name, parseCertificates, subjectName, type KeyType, type SanEntries } from './x509.js';

export const CA_FILES = { anchors: 'ca.crt', issuerChain: 'issuer.crt', issuerKey: 'issuer.key' } as const;

const DAY = 86_400_000;
export const CA_DEFAULTS = {
  validityMs: 365 * DAY,
  workloadTtlMs: DAY,
  allowedClockSkewMs: 15 * 60_000,
} as const;

export interface CaPem {
  anchors: string;
  issuerChain: string;
  issuerKey: string;
}

export interface GenerateCaOptions {
  trustDomain: string;
  keyType?: KeyType;
  validityMs?: number;
  allowedClockSkewMs?: number;
  now?: Date;
}

export function generateCa(o: GenerateCaOptions): CaPem {
  const now = o.now ?? new Date();
  const notBefore = new Date(now.getTime() - (o.allowedClockSkewMs ?? CA_DEFAULTS.allowedClockSkewMs));
  const notAfter = new Date(now.getTime() + (o.validityMs ?? CA_DEFAULTS.validityMs));
  const rootKey = generateKey(o.keyType);
  const rootPub = createPublicKey(rootKey);
  const rootName = name([['O', o.trustDomain]]);
  const root = buildCertificate({
    subject: rootName,
    publicKey: rootPub,
    issuer: { name: rootName, key: rootKey, keyId: keyId(rootPub) },
    notBefore,
    notAfter,
    isCA: true,
  });
  const issuerKey = generateKey(o.keyType);
  const issuer = buildCertificate({
    subject: name([['O', `spiffe://${o.trustDomain}/ns/default/dapr-sentry`]]),
    publicKey: createPublicKey(issuerKey),
    issuer: { name: rootName, key: rootKey, keyId: keyId(rootPub) },
    notBefore,
    notAfter,
    isCA: true,
  });
  return { anchors: root, issuerChain: issuer, issuerKey: keyPem(issuerKey) };
}

/** Writes the three files (mode 0600), refusing to overwrite unless asked. */
export function writeCa(dir: string, pem: CaPem, overwrite = false): string[] {
  mkdirSync(dir, { recursive: true });
  const files: Array<[string, string]> = [
    [join(dir, CA_FILES.anchors), pem.anchors],
    [join(dir, CA_FILES.issuerChain), pem.issuerChain],
    [join(dir, CA_FILES.issuerKey), pem.issuerKey],
  ];
  if (!overwrite) for (const [p] of files) if (existsSync(p)) throw new Error(`${p} exists already (use --overwrite to replace the CA)`);
  for (const [p, text] of files) {
    writeFileSync(p, text, { mode: 0o600 });
    chmodSync(p, 0o600);
  }
  return files.map(([p]) => p);
}

export function readCaFiles(dir: string): CaPem | undefined {
  const p = (f: string): string => join(dir, f);
  if (!existsSync(p(CA_FILES.anchors)) || !existsSync(p(CA_FILES.issuerChain)) || !existsSync(p(CA_FILES.issuerKey))) return undefined;
  return {
    anchors: readFileSync(p(CA_FILES.anchors), 'utf8'),
    issuerChain: readFileSync(p(CA_FILES.issuerChain), 'utf8'),
    issuerKey: readFileSync(p(CA_FILES.issuerKey), 'utf8'),
  };
}

export interface WorkloadRequest {
  publicKey: KeyObject;
  spiffeId: string;
  ttlMs?: number;
  allowedClockSkewMs?: number;
  now?: Date;
}

export interface Issued {
  /** Leaf then issuer chain, PEM. */
  certChain: string;
  notAfter: Date;
}

export class CertificateAuthority {
  readonly anchors: X509Certificate[];
  readonly anchorsPem: string;
  readonly issuer: X509Certificate;
  /** Issuer chain without a trailing self-signed root, PEM. */
  readonly issuerChainPem: string;
  private readonly issuerKey: KeyObject;
  private readonly issuerName: Buffer;
  private readonly issuerKeyId: Buffer;

  /** Validates the material as Sentry does and throws a message naming what is wrong. */
  constructor(pem: CaPem) {
    this.anchors = parseCertificates(pem.anchors);
    if (this.anchors.length === 0) throw new Error(`${CA_FILES.anchors}: no CERTIFICATE block`);
    for (const a of this.anchors) {
      if (!a.checkIssued(a) || !a.verify(a.publicKey)) throw new Error(`${CA_FILES.anchors}: trust anchor ${a.subject} is not self-signed`);
    }
    const chain = parseCertificates(pem.issuerChain);
    while (chain.length > 1 && chain[chain.length - 1]!.checkIssued(chain[chain.length - 1]!)) chain.pop();
    if (chain.length === 0) throw new Error(`${CA_FILES.issuerChain}: no CERTIFICATE block`);
    this.issuer = chain[0]!;
    if (!this.issuer.ca) throw new Error(`${CA_FILES.issuerChain}: the issuer certificate is not a CA`);
    // Each certificate must be signed by the next; the last by a trust anchor.
    for (let i = 0; i < chain.length; i++) {
      const parent = chain[i + 1] ?? this.anchors.find((a) => chain[i]!.checkIssued(a) && chain[i]!.verify(a.publicKey));
      if (!parent || !chain[i]!.verify(parent.publicKey)) throw new Error(`${CA_FILES.issuerChain}: the issuer does not chain to a certificate in ${CA_FILES.anchors}`);
    }
    try {
      this.issuerKey = createPrivateKey(pem.issuerKey);
    } catch (err) {
      throw new Error(`${CA_FILES.issuerKey}: not a private key Node can read: ${(err as Error).message}`, { cause: err });
    }
    const spki = (k: KeyObject): string => k.export({ type: 'spki', format: 'der' }).toString('hex');
    if (spki(createPublicKey(this.issuerKey)) !== spki(this.issuer.publicKey)) throw new Error(`${CA_FILES.issuerKey}: does not match the issuer certificate`);
    this.anchorsPem = this.anchors.map((a) => a.toString()).join('');
    this.issuerChainPem = chain.map((c) => c.toString()).join('');
    this.issuerName = subjectName(this.issuer);
    this.issuerKeyId = keyId(this.issuer.publicKey);
  }

  get notAfter(): Date {
    return new Date(this.issuer.validTo);
  }

  /** A workload SVID: empty subject, one URI SAN, digitalSignature, serverAuth + clientAuth. */
  signWorkload(r: WorkloadRequest): Issued {
    return this.sign(r.publicKey, { uris: [r.spiffeId] }, r.ttlMs, r.allowedClockSkewMs, r.now, name([]));
  }

  /** A server certificate (Sentry's own, a fronting listener's) with DNS/IP names too. */
  signServer(publicKey: KeyObject, san: SanEntries, ttlMs?: number): Issued {
    return this.sign(publicKey, san, ttlMs, undefined, undefined, name([]));
  }

  private sign(publicKey: KeyObject, san: SanEntries, ttlMs: number = CA_DEFAULTS.workloadTtlMs, skewMs: number = CA_DEFAULTS.allowedClockSkewMs, now = new Date(), subject: Buffer): Issued {
    const notBefore = new Date(now.getTime() - skewMs);
    // Never outlive the issuer: a leaf past its issuer's expiry would fail chain validation.
    const notAfter = new Date(Math.min(now.getTime() + ttlMs, this.notAfter.getTime()));
    const leaf = buildCertificate({
      subject,
      publicKey,
      issuer: { name: this.issuerName, key: this.issuerKey, keyId: this.issuerKeyId },
      notBefore,
      notAfter,
      isCA: false,
      san,
      extKeyUsage: true,
    });
    return { certChain: leaf + this.issuerChainPem, notAfter };
  }
}
