// HTTPEndpoint resources and FQDN targets: non-Dapr services the calling sidecar reaches
// directly. Header values and client TLS material are resolved once at start-up (env, secret
// references through the resource's auth.secretStore); each endpoint keeps its own pool.
import type { ConnectionOptions } from 'node:tls';
import { resolveMetadata, type ResolveContext } from '../../resources/resolve.js';
import type { HttpEndpointResource, TlsValue } from '../../resources/types.js';

export interface Endpoint {
  name: string;
  /** `scheme://host:port`. */
  origin: string;
  /** Path prefix of baseUrl without the trailing slash, possibly ''. */
  basePath: string;
  headers: Record<string, string>;
  tls: ConnectionOptions | undefined;
}

export function endpointFromUrl(name: string, baseUrl: string): Endpoint {
  const url = new URL(baseUrl);
  return { name, origin: `${url.protocol}//${url.host}`, basePath: url.pathname.replace(/\/+$/, ''), headers: {}, tls: undefined };
}

export async function loadEndpoints(resources: readonly HttpEndpointResource[], ctx: ResolveContext): Promise<Map<string, Endpoint>> {
  const out = new Map<string, Endpoint>();
  for (const r of resources) {
    const e = endpointFromUrl(r.name, r.baseUrl);
    const target = { origin: r.origin, ...(r.secretStore ? { secretStore: r.secretStore } : {}) };
    e.headers = await resolveMetadata(r.headers, { ...target, field: 'spec.headers' }, ctx);
    const tls = r.clientTLS;
    if (tls && (tls.rootCA || tls.certificate || tls.privateKey)) {
      const one = async (field: string, v: TlsValue | undefined): Promise<string | undefined> => {
        if (!v) return undefined;
        const item = { name: field, ...(v.value !== undefined ? { value: v.value } : {}), ...(v.secretKeyRef ? { secretKeyRef: v.secretKeyRef } : {}) };
        return (await resolveMetadata([item], { ...target, field: `spec.clientTLS.${field}` }, ctx))[field];
      };
      const ca = await one('rootCA', tls.rootCA);
      const cert = await one('certificate', tls.certificate);
      const key = await one('privateKey', tls.privateKey);
      e.tls = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
    }
    out.set(r.name, e);
  }
  return out;
}
