import { Cursor, type Obj } from './decode.js';
import { decodeMetadataItems, stringifyValue } from './metadata-items.js';
import type { HttpEndpointResource, TlsValue } from './types.js';

export function decodeHttpEndpoint(c: Cursor, doc: Obj, name: string, namespace: string | undefined): HttpEndpointResource {
  const spec = c.object(doc, 'spec') ?? c.at('spec').fail('is required');
  const s = c.at('spec');
  const baseUrl = s.string(spec, 'baseUrl', true)!;
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return s.at('baseUrl').fail(`must be an absolute URL with a scheme, got ${JSON.stringify(baseUrl)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') s.at('baseUrl').fail(`scheme must be http or https, got ${url.protocol}`);
  const out: HttpEndpointResource = {
    kind: 'HTTPEndpoint',
    name,
    baseUrl,
    headers: decodeMetadataItems(s.at('headers'), s.array(spec, 'headers')),
    scopes: c.strings(doc, 'scopes'),
    origin: { file: c.file, doc: c.doc },
  };
  if (namespace) out.namespace = namespace;
  const tls = s.object(spec, 'clientTLS');
  if (tls) {
    const t = s.at('clientTLS');
    const clientTLS: NonNullable<HttpEndpointResource['clientTLS']> = {};
    for (const key of ['rootCA', 'certificate', 'privateKey'] as const) {
      const v = t.object(tls, key);
      if (v) clientTLS[key] = tlsValue(t.at(key), v);
    }
    const reneg = t.string(tls, 'renegotiation');
    if (reneg) {
      if (!['Never', 'OnceAsClient', 'FreelyAsClient'].includes(reneg)) t.at('renegotiation').fail('must be Never, OnceAsClient or FreelyAsClient');
      clientTLS.renegotiation = reneg;
    }
    out.clientTLS = clientTLS;
  }
  const auth = c.object(doc, 'auth');
  const store = auth ? c.at('auth').string(auth, 'secretStore') : undefined;
  if (store) out.secretStore = store;
  return out;
}

function tlsValue(c: Cursor, v: Obj): TlsValue {
  const out: TlsValue = {};
  const value = stringifyValue(c.get(v, 'value'));
  if (value !== undefined) out.value = value;
  const ref = c.object(v, 'secretKeyRef');
  if (ref) out.secretKeyRef = { name: c.at('secretKeyRef').string(ref, 'name', true)!, key: c.at('secretKeyRef').string(ref, 'key') ?? '' };
  return out;
}
