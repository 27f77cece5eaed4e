// Routes about the sidecar itself: metadata, health and shutdown.
import { DaprError } from '../../core/errors.js';
import type { Route } from '../../core/http.js';

export interface RuntimeView {
  appId: string;
  /** Outbound APIs work (components loaded, listeners up). */
  isOutboundReady(): boolean;
  /** What is still missing before /v1.0/healthz turns 204 (empty when ready). */
  unready(): string[];
  metadata(): Record<string, unknown>;
  setExtended(key: string, value: string): void;
  shutdown(force: boolean): void;
}

export function runtimeRoutes(rt: RuntimeView): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1.0/healthz',
      group: 'healthz',
      handler: async (ex) => {
        const appid = ex.query.get('appid');
        if (appid && appid !== rt.appId) throw new DaprError('healthAppIdNotMatch', 'dapr app-id does not match');
        const missing = rt.unready();
        if (missing.length > 0) throw new DaprError('healthNotReady', `dapr is not ready: [${missing.join(' ')}]`);
        ex.sendEmpty(204);
      },
    },
    {
      method: 'GET',
      path: '/v1.0/healthz/outbound',
      group: 'healthz',
      handler: async (ex) => {
        if (!rt.isOutboundReady()) throw new DaprError('outboundHealthNotReady', 'dapr outbound is not ready');
        ex.sendEmpty(204);
      },
    },
    {
      method: 'GET',
      path: '/v1.0/metadata',
      group: 'metadata',
      handler: async (ex) => ex.sendJson(200, rt.metadata()),
    },
    {
      method: 'PUT',
      path: '/v1.0/metadata/{key}',
      group: 'metadata',
      handler: async (ex) => {
        const body = await ex.body();
        if (ex.params.key) rt.setExtended(ex.params.key, body.toString('utf8'));
        ex.sendEmpty(204);
      },
    },
    {
      method: 'POST',
      path: '/v1.0/shutdown',
      group: 'shutdown',
      handler: async (ex) => {
        const force = (ex.header('dapr-force-shutdown') ?? '').toLowerCase() === 'true';
        ex.sendEmpty(204);
        ex.res.once('finish', () => rt.shutdown(force));
      },
    },
  ];
}
