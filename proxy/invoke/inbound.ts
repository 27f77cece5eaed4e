// The callee side: a request that arrived for this sidecar's own app (from a peer sidecar on
// the internal port, from a client on the public fronting port, or a self-invocation) goes to
// the app through the app channel (health, max concurrency, APP_API_TOKEN). The body streams.
import type { Readable } from 'node:stream';
import { DaprError } from '../../core/errors.js';
import type { PolicyProvider } from '../../core/policy.js';
import type { Exchange, Handler } from '../../core/http.js';
import type { AppChannel, AppRequest } from '../app-channel.js';
import { isUpgrade, takeOverSocket, type UpgradeTracker } from '../listeners/upgrade.js';
import { HEADER, hasBody, inboundHeaders } from './headers.js';
import { dial, splice, upgradeHead } from './tunnel.js';
import { asInvokeFailure, invokeUnderPolicy } from './resilient.js';
import type { Forwarded } from './forwarded.js';

export interface AppDelivery {
  appId: string;
  channel: AppChannel | undefined;
  appApiToken: string | undefined;
  tunnels: UpgradeTracker;
}

/** Sends one request to the app and relays its answer; `headers` are already the ones to send. */
export async function deliverToApp(d: AppDelivery, ex: Exchange, path: string, headers: Record<string, string | string[]>, target: string): Promise<void> {
  if (isUpgrade(ex.req)) return tunnelToApp(d, ex, path, headers, target);
  let res: Forwarded;
  try {
    res = await requestApp(d, ex.req.method!, path, headers, target, hasBody(ex.req.headers) ? ex.req : null, undefined);
  } catch (err) {
    throw asInvokeFailure(err, target);
  }
  await res.relayTo(ex.res, ex.req.headers.accept === 'text/event-stream');
}

/**
 * One request to the app, answer not yet relayed (a resiliency policy may repeat it). Not an
 * async function, so no promise of its own per request: a transport failure rejects as undici
 * reports it, and the callers turn it into Dapr's error with asInvokeFailure (invokeUnderPolicy,
 * deliverToApp).
 */
export function requestApp(
  d: AppDelivery, verb: string, path: string, headers: Record<string, string | string[]>, target: string,
  body: Readable | Buffer | null, signal: AbortSignal | undefined,
): Promise<Forwarded> {
  const unavailable = appUnavailable(d, target);
  if (unavailable) return Promise.reject(unavailable);
  const req: AppRequest = { method: verb as 'GET', path, headers, body };
  if (signal) req.signal = signal;
  return d.channel!.forward(req);
}

/** Why the app cannot take a call now (no app channel, or not healthy), as Dapr words it; undefined when it can. */
function appUnavailable(d: AppDelivery, target: string): DaprError | undefined {
  if (!d.channel) return new DaprError('invokeFailed', `failed to invoke, id: ${target}, err: app channel is not initialized`);
  if (!d.channel.isHealthy) return new DaprError('invokeNotReady', `failed to invoke, id: ${target}, err: app is not in a healthy state`);
  return undefined;
}

async function tunnelToApp(d: AppDelivery, ex: Exchange, path: string, headers: Record<string, string | string[]>, target: string): Promise<void> {
  const unavailable = appUnavailable(d, target);
  if (unavailable) throw unavailable;
  const url = new URL(d.channel!.origin);
  if (d.appApiToken) headers[HEADER.apiToken] = d.appApiToken;
  await d.channel!.acquire();
  let upstream;
  try {
    upstream = await dial({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) });
  } catch (err) {
    d.channel!.release();
    throw asInvokeFailure(err, target);
  }
  upstream.once('close', () => d.channel!.release());
  const { socket, head } = takeOverSocket(ex);
  d.tunnels.track(upstream);
  upstream.write(upgradeHead(ex.req.method ?? 'GET', path, url.host, String(ex.req.headers.upgrade), headers));
  if (head.length > 0) upstream.write(head);
  splice(socket, upstream);
}

/**
 * The end handler of the internal and public listeners. `trustCaller`: the internal port keeps
 * the caller identity headers its peer stamped (mutual TLS will vouch for them); the public
 * port strips them, since anyone may connect there.
 */
export function inboundHandler(d: AppDelivery, trustCaller: boolean, policies?: PolicyProvider): Handler {
  return async (ex) => {
    const url = ex.req.url ?? '/';
    if (url.charCodeAt(0) !== 0x2f /* / */ || url.startsWith('//')) throw new DaprError('badRequest', 'request target must be a path');
    const headers = inboundHeaders(ex.req.headers, trustCaller);
    if (!policies || isUpgrade(ex.req)) return deliverToApp(d, ex, url, headers, d.appId);
    // Fronting: this sidecar is the caller's edge, so the policy for its own app id applies here.
    const res = await invokeUnderPolicy(policies.app(d.appId, ex.path), ex, d.appId, (body, signal) => requestApp(d, ex.req.method!, url, headers, d.appId, body, signal));
    await res.relayTo(ex.res, ex.req.headers.accept === 'text/event-stream');
  };
}
