// The internal listener's caller identity: the SPIFFE ID of the verified client certificate
// becomes `dapr-caller-app-id` / `dapr-caller-namespace` (whatever the peer stamped) and
// `dapr-caller-spiffe-id` (bulwark's addition: the full ID, so an app can see the trust
// domain). Without a valid SVID the three are removed: nothing unverified reaches the app.
import type { Layer } from '../../core/http.js';
import { peerIdentity } from '../../security/tls.js';
import { HEADER } from '../invoke/headers.js';

export const CALLER_SPIFFE_ID = 'dapr-caller-spiffe-id';

export function mtlsIdentityLayer(): Layer {
  return (next) => (ex) => {
    const id = peerIdentity(ex.req.socket);
    const h = ex.req.headers;
    if (id) {
      h[HEADER.callerAppId] = id.appId;
      h[HEADER.callerNamespace] = id.namespace;
      h[CALLER_SPIFFE_ID] = id.uri;
    } else {
      delete h[HEADER.callerAppId];
      delete h[HEADER.callerNamespace];
      delete h[CALLER_SPIFFE_ID];
    }
    return next(ex);
  };
}
