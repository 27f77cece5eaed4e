// The wire format between a sidecar and `bulwark sentry` (documented in docs/security.md).
//
//   POST /v1/sign  (HTTPS; the sidecar checks the sentry's SVID, no client certificate)
//   {"csr": "<PEM CERTIFICATE REQUEST>", "id": "<appId>", "namespace": "default",
//    "trustDomain": "public", "timestamp": <unix seconds>, "token": "<hex>"}
//   200 {"certChain": "<PEM leaf + issuer>", "trustAnchors": "<PEM>", "validUntil": "<RFC 3339>"}
//   4xx {"error": "<why>"}
//
// Authentication: when the sentry has a shared secret, `token` must be
// HMAC-SHA256(secret, "bulwark-sentry-v1\n" + id + "\n" + namespace + "\n" + trustDomain + "\n"
// + timestamp + "\n" + hex(SHA-256(csr))) and the timestamp within the allowed clock skew. The
// CSR's own signature proves the caller holds the key; a replayed request only yields a
// certificate for a key the replayer does not have. Without a secret the sentry runs like Dapr's
// self-hosted `insecure` validator (any local process may ask for any app id) and says so.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const SIGN_PATH = '/v1/sign';
export const SENTRY_APP_ID = 'dapr-sentry';
export const DEFAULT_SENTRY_PORT = 50001;

export interface SignRequest {
  csr: string;
  id: string;
  namespace: string;
  trustDomain: string;
  timestamp: number;
  token?: string;
}

export interface SignResponse {
  certChain: string;
  trustAnchors: string;
  validUntil: string;
}

export function requestToken(secret: string, r: Omit<SignRequest, 'token'>): string {
  const csrHash = createHash('sha256').update(r.csr).digest('hex');
  return createHmac('sha256', secret).update(`bulwark-sentry-v1\n${r.id}\n${r.namespace}\n${r.trustDomain}\n${r.timestamp}\n${csrHash}`).digest('hex');
}

export function tokenMatches(secret: string, r: SignRequest): boolean {
  if (typeof r.token !== 'string') return false;
  const want = Buffer.from(requestToken(secret, r), 'hex');
  const got = Buffer.from(r.token, 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}
