// The sidecar's side of the sentry protocol: a new key and CSR per request, HTTPS to the
// sentry verified against the trust anchors and the sentry's expected SPIFFE ID, 3 s per
// attempt, up to 5 attempts (as daprd does).
import { request } from 'node:https';
import { formatSpiffeId } from './identity.js';
import { requestToken, SENTRY_APP_ID, SIGN_PATH, type SignRequest, type SignResponse } from './sentry-protocol.js';
import { checkPeerIdentity, type Credentials } from './tls.js';
import { buildCsr, generateKey, keyPem, type KeyType } from './x509.js';

export interface SentryClientOptions {
  /** host:port */
  address: string;
  anchors: string;
  /** Where the sentry's own identity lives (Dapr's control-plane trust domain and namespace). */
  controlPlaneTrustDomain: string;
  controlPlaneNamespace: string;
  id: string;
  namespace: string;
  trustDomain: string;
  secret: string | undefined;
  keyType?: KeyType;
  attempts?: number;
  timeoutMs?: number;
}

/**
 * Why a request for a certificate failed, in the words of daprd's
 * dapr_runtime_mtls_*_fail_total `reason` label: `sentry_conn` (no connection or no answer),
 * `sign` (the sentry refused, or answered something unusable), `prikeygen` (no key could be made).
 */
export type SentryFailure = 'sentry_conn' | 'sign' | 'prikeygen';

export function sentryFailureReason(err: unknown): SentryFailure {
  for (let e = err as { reason?: SentryFailure; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.reason) return e.reason;
  }
  return 'sign';
}

const failure = <E extends Error>(err: E, reason: SentryFailure): E & { reason: SentryFailure } => Object.assign(err, { reason });

export async function requestCertificate(o: SentryClientOptions): Promise<Credentials> {
  let key: ReturnType<typeof generateKey>;
  let csr: string;
  try {
    key = generateKey(o.keyType);
    csr = buildCsr(key);
  } catch (err) {
    throw failure(new Error(`could not make a key and CSR: ${(err as Error).message}`, { cause: err }), 'prikeygen');
  }
  let lastErr: unknown;
  const attempts = o.attempts ?? 5;
  for (let i = 0; i < attempts; i++) {
    try {
      const res = await post(o, csr);
      return { certChain: res.certChain, key: keyPem(key), anchors: o.anchors };
    } catch (err) {
      lastErr = err;
      if ((err as { permanent?: boolean }).permanent) break;
      if (i < attempts - 1) await new Promise((r) => setTimeout(r, 200 * (i + 1)));
    }
  }
  throw new Error(`could not get a workload certificate from the sentry at ${o.address}: ${(lastErr as Error)?.message ?? String(lastErr)}`, { cause: lastErr });
}

function post(o: SentryClientOptions, csr: string): Promise<SignResponse> {
  const colon = o.address.lastIndexOf(':');
  const host = colon > 0 ? o.address.slice(0, colon).replace(/^\[|\]$/g, '') : o.address;
  const port = colon > 0 ? Number(o.address.slice(colon + 1)) : 50001;
  const body: Omit<SignRequest, 'token'> & { token?: string } = { csr, id: o.id, namespace: o.namespace, trustDomain: o.trustDomain, timestamp: Math.floor(Date.now() / 1000) };
  if (o.secret !== undefined) body.token = requestToken(o.secret, body);
  const payload = JSON.stringify(body);
  const check = checkPeerIdentity({ appId: SENTRY_APP_ID, namespace: o.controlPlaneNamespace });
  const sentryId = formatSpiffeId(o.controlPlaneTrustDomain, o.controlPlaneNamespace, SENTRY_APP_ID);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        method: 'POST',
        path: SIGN_PATH,
        ca: o.anchors,
        agent: false,
        timeout: o.timeoutMs ?? 3000,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        // The sentry must be exactly spiffe://<controlPlaneTrustDomain>/ns/<namespace>/dapr-sentry.
        checkServerIdentity: (h, cert) => {
          const err = check(h, cert);
          if (err) return err;
          return cert.subjectaltname?.split(', ').includes(`URI:${sentryId}`) ? undefined : new Error(`the sentry's identity is not ${sentryId}`);
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Partial<SignResponse> & { error?: string };
          try {
            parsed = JSON.parse(text) as typeof parsed;
          } catch {
            return reject(failure(new Error(`sentry answered ${res.statusCode} with a body that is not JSON`), 'sign'));
          }
          if (res.statusCode !== 200 || typeof parsed.certChain !== 'string') {
            const err = new Error(`sentry refused (${res.statusCode}): ${parsed.error ?? text}`);
            // 4xx: asking again will not help.
            return reject(Object.assign(failure(err, 'sign'), { permanent: (res.statusCode ?? 500) < 500 }));
          }
          resolve(parsed as SignResponse);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => reject(failure(err, 'sentry_conn')));
    req.end(payload);
  });
}
