// SPIFFE identities of workloads: spiffe://<trustDomain>/ns/<namespace>/<appId>. Parsing
// follows Dapr's callee rules (path /ns/<ns>/<app>, extra segments tolerated, empty ones
// refused); the SVID rules Node does not know (one URI SAN, not a CA) are checked here.
import type { X509Certificate } from 'node:crypto';

export interface SpiffeId {
  trustDomain: string;
  namespace: string;
  appId: string;
  /** The full URI. */
  uri: string;
}

export const DEFAULT_TRUST_DOMAIN = 'public';
export const DEFAULT_NAMESPACE = 'default';

export function formatSpiffeId(trustDomain: string, namespace: string, appId: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/${appId}`;
}

const TRUST_DOMAIN = /^[a-z0-9._-]+$/;

/** Parses a SPIFFE ID with a workload path; undefined when it is not one. */
export function parseSpiffeId(uri: string): SpiffeId | undefined {
  if (!uri.startsWith('spiffe://')) return undefined;
  const rest = uri.slice(9);
  const slash = rest.indexOf('/');
  if (slash <= 0) return undefined;
  const trustDomain = rest.slice(0, slash);
  if (!TRUST_DOMAIN.test(trustDomain)) return undefined;
  const segs = rest.slice(slash + 1).split('/');
  if (segs.some((s) => s === '' || s === '.' || s === '..')) return undefined;
  if (segs.length < 3 || segs[0] !== 'ns') return undefined;
  return { trustDomain, namespace: segs[1]!, appId: segs[2]!, uri };
}

/** URI SANs of a certificate (Node's subjectaltname text: `URI:a, DNS:b`). */
export function uriSans(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  const out: string[] = [];
  for (const part of subjectAltName.split(', ')) if (part.startsWith('URI:')) out.push(part.slice(4));
  return out;
}

/** The SVID's identity, or a reason it is not a workload SVID. */
export function svidIdentity(cert: Pick<X509Certificate, 'subjectAltName' | 'ca'>): SpiffeId | string {
  if (cert.ca) return 'the certificate is a CA certificate';
  const uris = uriSans(cert.subjectAltName).filter((u) => u.startsWith('spiffe://'));
  if (uris.length !== 1) return `expected exactly one spiffe:// URI SAN, found ${uris.length}`;
  return parseSpiffeId(uris[0]!) ?? `malformed SPIFFE ID ${uris[0]!}`;
}
