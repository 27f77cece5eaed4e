// DAPR_API_TOKEN: every API request must carry `dapr-api-token`, except GET on the health
// routes. A refusal is Dapr's plain-text 401. The header is removed once checked so it is never
// forwarded.
import { timingSafeEqual } from 'node:crypto';
import type { Layer } from '../../core/http.js';

export function apiTokenLayer(token: string | undefined): Layer | null {
  if (!token) return null;
  const expected = Buffer.from(token);
  return (next) => async (ex) => {
    if (ex.req.method === 'GET' && (ex.path === '/v1.0/healthz' || ex.path === '/v1.0/healthz/outbound' || ex.path === '/v1.0/healthz/')) return next(ex);
    const given = ex.header('dapr-api-token');
    const buf = given === undefined ? undefined : Buffer.from(given);
    if (!buf || buf.length !== expected.length || !timingSafeEqual(buf, expected)) {
      ex.sendRaw(401, 'invalid api token', 'text/plain; charset=utf-8');
      return;
    }
    delete ex.req.headers['dapr-api-token'];
    return next(ex);
  };
}
