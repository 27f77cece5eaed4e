// Which headers cross a hop and which the sidecars add. Hop-by-hop headers (RFC 9110 §7.6.1,
// plus any named in `Connection`) never cross; routing and credential headers meant for this
// sidecar (`dapr-app-id`, `dapr-api-token`), `*-bin` gRPC metadata and Dapr's internal
// `destination-app-id` are dropped as Dapr drops them.
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';

export const HEADER = {
  appId: 'dapr-app-id',
  callerAppId: 'dapr-caller-app-id',
  callerNamespace: 'dapr-caller-namespace',
  calleeAppId: 'dapr-callee-app-id',
  apiToken: 'dapr-api-token',
  /** Set only by the callee's mTLS layer from the verified peer certificate. */
  callerSpiffeId: 'dapr-caller-spiffe-id',
} as const;

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings', 'host',
]);

const NOT_FORWARDED = new Set([...HOP_BY_HOP, HEADER.appId, HEADER.apiToken, 'destination-app-id']);

/** Names listed in `Connection` (hop-by-hop by declaration), lower-cased. */
function connectionNamed(headers: IncomingHttpHeaders): Set<string> | undefined {
  const c = headers.connection;
  if (!c || c === 'keep-alive' || c === 'close') return undefined;
  return new Set(c.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s && s !== 'close' && s !== 'keep-alive'));
}

/** Request headers to forward to the next hop. */
export function requestHeaders(incoming: IncomingHttpHeaders): Record<string, string | string[]> {
  const named = connectionNamed(incoming);
  const out: Record<string, string | string[]> = {};
  for (const k in incoming) {
    const v = incoming[k];
    if (v === undefined || NOT_FORWARDED.has(k) || k.endsWith('-bin') || named?.has(k)) continue;
    out[k] = v;
  }
  return out;
}

/** Request headers toward the app on the callee side: the caller's identity headers are kept. */
export function inboundHeaders(incoming: IncomingHttpHeaders, trustCaller: boolean): Record<string, string | string[]> {
  const out = requestHeaders(incoming);
  if (!trustCaller) {
    delete out[HEADER.callerAppId];
    delete out[HEADER.callerNamespace];
    delete out[HEADER.calleeAppId];
    delete out[HEADER.callerSpiffeId];
  }
  return out;
}

/** Stamps what the calling sidecar adds on a call to another app (caller-supplied values replaced). */
export function stampCaller(
  out: Record<string, string | string[]>,
  caller: { appId: string; namespace: string | undefined; host: string },
  callee: string,
  clientAddress: string | undefined,
): void {
  out[HEADER.callerAppId] = caller.appId;
  if (caller.namespace) out[HEADER.callerNamespace] = caller.namespace;
  else delete out[HEADER.callerNamespace];
  out[HEADER.calleeAppId] = callee;
  delete out[HEADER.callerSpiffeId]; // only the callee's mTLS layer may state it
  const ip = clientAddress ?? caller.host;
  out['x-forwarded-for'] = appendList(out['x-forwarded-for'], ip);
  out['x-forwarded-host'] = appendList(out['x-forwarded-host'], caller.host);
  const q = ip.includes(':') ? `"[${ip}]"` : ip;
  const by = caller.host.includes(':') ? `"[${caller.host}]"` : caller.host;
  out.forwarded = appendList(out.forwarded, `for=${q};by=${by};host=${caller.host}`);
}

function appendList(prev: string | string[] | undefined, value: string): string {
  if (prev === undefined) return value;
  return `${Array.isArray(prev) ? prev.join(', ') : prev}, ${value}`;
}

/** Copies a response's headers onto ours, minus the hop-by-hop ones. */
export function copyResponseHeaders(res: ServerResponse, headers: Record<string, string | string[] | undefined> | OutgoingHttpHeaders): void {
  const named = typeof headers.connection === 'string' ? connectionNamed(headers as IncomingHttpHeaders) : undefined;
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined || HOP_BY_HOP.has(k) || named?.has(k)) continue;
    res.setHeader(k, v as string | string[]);
  }
}

export function hasBody(headers: IncomingHttpHeaders): boolean {
  const len = headers['content-length'];
  return (len !== undefined && len !== '0') || headers['transfer-encoding'] !== undefined;
}
