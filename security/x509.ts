// X.509 certificates and PKCS#10 requests built with our DER framing and signed with
// node:crypto keys (ECDSA P-256 by default, RSA 2048 as the alternative we measured against;
// see docs/security.md). node-forge signs RSA only, so it is not used for certificates.
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import * as der from './der.js';

export type KeyType = 'ec-p256' | 'rsa-2048';

const OID = {
  ecdsaSha256: '1.2.840.10045.4.3.2',
  rsaSha256: '1.2.840.113549.1.1.11',
  ed25519: '1.3.101.112',
  organization: '2.5.4.10',
  commonName: '2.5.4.3',
  subjectKeyId: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyId: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

export function generateKey(type: KeyType = 'ec-p256'): KeyObject {
  return type === 'rsa-2048'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    : generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

export function keyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

function algorithm(key: KeyObject): { id: Buffer; hash: string | null } {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return { id: der.seq(der.oid(OID.ecdsaSha256)), hash: 'sha256' };
    case 'rsa':
      return { id: der.seq(der.oid(OID.rsaSha256), der.nul()), hash: 'sha256' };
    case 'ed25519':
      return { id: der.seq(der.oid(OID.ed25519)), hash: null };
    default:
      throw new Error(`unsupported key type ${String(key.asymmetricKeyType)}`);
  }
}

/** A distinguished name from (type, value) pairs, e.g. [['O', 'public']]; [] is the empty name. */
export function name(parts: ReadonlyArray<readonly ['O' | 'CN', string]>): Buffer {
  return der.seq(...parts.map(([t, v]) => der.set(der.seq(der.oid(t === 'O' ? OID.organization : OID.commonName), der.utf8(v)))));
}

function ext(id: string, critical: boolean, value: Buffer): Buffer {
  return der.seq(der.oid(id), ...(critical ? [der.bool(true)] : []), der.octets(value));
}

/** KeyUsage bits: 0 digitalSignature, 5 keyCertSign, 6 cRLSign. */
function keyUsage(bitsSet: number[]): Buffer {
  let v = 0;
  for (const b of bitsSet) v |= 0x80 >> b;
  let unused = 0;
  while (unused < 7 && !(v & (1 << unused))) unused++;
  return der.bits(Buffer.from([v]), unused);
}

export function keyId(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const n = der.read(spki);
  const [, bitString] = der.children(spki, n);
  return createHash('sha1').update(der.content(spki, bitString!).subarray(1)).digest();
}

export interface SanEntries {
  uris?: readonly string[];
  dns?: readonly string[];
  ips?: readonly string[];
}

function ipBytes(ip: string): Buffer {
  if (ip.includes(':')) {
    const [head, tail] = ip.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    return Buffer.from(groups.map((g) => g.padStart(4, '0')).join(''), 'hex');
  }
  return Buffer.from(ip.split('.').map(Number));
}

export interface CertificateSpec {
  subject: Buffer;
  publicKey: KeyObject;
  issuer: { name: Buffer; key: KeyObject; keyId: Buffer };
  notBefore: Date;
  notAfter: Date;
  isCA: boolean;
  san?: SanEntries;
  /** Leaves get serverAuth + clientAuth (one certificate for both roles, as Dapr's SVIDs). */
  extKeyUsage?: boolean;
}

export function buildCertificate(s: CertificateSpec): string {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  const alg = algorithm(s.issuer.key);
  const exts: Buffer[] = [
    ext(OID.basicConstraints, true, s.isCA ? der.seq(der.bool(true)) : der.seq()),
    ext(OID.keyUsage, true, keyUsage(s.isCA ? [5, 6] : [0])),
    ext(OID.subjectKeyId, false, der.octets(keyId(s.publicKey))),
    ext(OID.authorityKeyId, false, der.seq(der.ctx(0, s.issuer.keyId, false))),
  ];
  if (s.extKeyUsage) exts.push(ext(OID.extKeyUsage, false, der.seq(der.oid(OID.serverAuth), der.oid(OID.clientAuth))));
  const general: Buffer[] = [];
  for (const u of s.san?.uris ?? []) general.push(der.ctx(6, Buffer.from(u), false));
  for (const d of s.san?.dns ?? []) general.push(der.ctx(2, Buffer.from(d), false));
  for (const ip of s.san?.ips ?? []) general.push(der.ctx(7, ipBytes(ip), false));
  // With an empty subject the SAN carries the identity and must be critical (RFC 5280 4.2.1.6).
  const emptySubject = s.subject.length === 2;
  if (general.length > 0) exts.push(ext(OID.subjectAltName, emptySubject, der.seq(...general)));
  const tbs = der.seq(
    der.ctx(0, der.uint(2), true),
    der.uint(serial),
    alg.id,
    s.issuer.name,
    der.seq(der.time(s.notBefore), der.time(s.notAfter)),
    s.subject,
    s.publicKey.export({ type: 'spki', format: 'der' }),
    der.ctx(3, der.seq(...exts), true),
  );
  const sig = sign(alg.hash, tbs, s.issuer.key);
  return der.pem('CERTIFICATE', der.seq(tbs, alg.id, der.bits(sig)));
}

/** A PKCS#10 request with an empty subject, as a Dapr sidecar sends to Sentry. */
export function buildCsr(key: KeyObject): string {
  const alg = algorithm(key);
  const pub = createPublicKey(key);
  const info = der.seq(der.uint(0), der.seq(), pub.export({ type: 'spki', format: 'der' }), der.ctx(0, Buffer.alloc(0), true));
  return der.pem('CERTIFICATE REQUEST', der.seq(info, alg.id, der.bits(sign(alg.hash, info, key))));
}

/** The public key of a PKCS#10 request whose self-signature verifies; throws otherwise. */
export function csrPublicKey(csrPem: string): KeyObject {
  const [buf] = der.pemBlocks(csrPem, 'CERTIFICATE REQUEST');
  if (!buf) throw new Error('no CERTIFICATE REQUEST block');
  const top = der.read(buf);
  const [info, alg, sig] = der.children(buf, top);
  if (!info || !alg || !sig) throw new Error('malformed certificate request');
  const [, , spki] = der.children(buf, info);
  if (!spki) throw new Error('malformed certificate request');
  const key = createPublicKey({ key: der.raw(buf, spki), format: 'der', type: 'spki' });
  const [algOid] = der.children(buf, alg);
  const algName = der.decodeOid(der.content(buf, algOid!));
  const hash = algName === OID.ed25519 ? null : 'sha256';
  if (algName !== OID.ecdsaSha256 && algName !== OID.rsaSha256 && algName !== OID.ed25519) throw new Error(`unsupported request signature ${algName}`);
  const signature = der.content(buf, sig).subarray(1);
  if (!verify(hash, der.raw(buf, info), key, signature)) throw new Error('the request signature does not verify');
  return key;
}

/** The subject name of a certificate as DER (to become the issuer name of what it signs). */
export function subjectName(cert: X509Certificate): Buffer {
  const buf = cert.raw;
  const [tbs] = der.children(buf, der.read(buf));
  const fields = der.children(buf, tbs!);
  // [0] version is present in v3 certificates: subject is field 5 then, 4 otherwise.
  const offset = fields[0]!.tag === 0xa0 ? 1 : 0;
  return Buffer.from(der.raw(buf, fields[4 + offset]!));
}

/** PEM certificates in a text, parsed. */
export function parseCertificates(text: string): X509Certificate[] {
  return der.pemBlocks(text, 'CERTIFICATE').map((b) => new X509Certificate(b));
}
