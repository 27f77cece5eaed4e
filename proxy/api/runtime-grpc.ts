// The runtime rpcs of dapr.proto.runtime.v1.Dapr: GetMetadata (the SDKs' readiness probe),
// SetMetadata and Shutdown, over the same RuntimeView as the HTTP routes beside this file.
import { DAPR_SERVICE, unary, type GrpcMethods, type Msg } from '../../core/grpc.js';
import type { RuntimeView } from './runtime-routes.js';

const ACTOR_STATUS: Record<string, number> = { INITIALIZING: 0, DISABLED: 1, RUNNING: 2 };
const SUBSCRIPTION_TYPE: Record<string, number> = { DECLARATIVE: 1, PROGRAMMATIC: 2, STREAMING: 3 };

export function runtimeGrpc(rt: RuntimeView): Record<string, GrpcMethods> {
  return {
    [DAPR_SERVICE]: {
      GetMetadata: unary(async () => metadataMessage(rt.metadata())),
      SetMetadata: unary(async (req) => {
        if (req.key) rt.setExtended(String(req.key), String(req.value ?? ''));
        return {};
      }),
      Shutdown: unary(async () => {
        // After the answer is on its way, as the HTTP route does.
        setImmediate(() => rt.shutdown(false));
        return {};
      }),
    },
  };
}

/** GET /v1.0/metadata's document as a GetMetadataResponse. */
export function metadataMessage(m: Record<string, unknown>): Msg {
  const list = (v: unknown): Msg[] => (Array.isArray(v) ? (v as Msg[]) : []);
  const actorRuntime = m.actorRuntime as Msg | undefined;
  const app = (m.appConnectionProperties ?? {}) as Msg;
  const out: Msg = {
    id: m.id,
    runtimeVersion: m.runtimeVersion ?? '',
    enabledFeatures: list(m.enabledFeatures),
    registeredComponents: list(m.components).map((c) => ({ name: c.name, type: c.type, version: c.version ?? '', capabilities: c.capabilities ?? [] })),
    extendedMetadata: m.extended ?? {},
    activeActorsCount: list(m.actors).map((a) => ({ type: a.type, count: a.count })),
    subscriptions: list(m.subscriptions).map((s) => ({
      pubsubName: s.pubsubname,
      topic: s.topic,
      metadata: s.metadata ?? {},
      rules: { rules: list(s.rules).map((r) => ({ match: r.match ?? '', path: r.path ?? '' })) },
      deadLetterTopic: s.deadLetterTopic ?? '',
      type: SUBSCRIPTION_TYPE[String(s.type).toUpperCase()] ?? 0,
    })),
    httpEndpoints: list(m.httpEndpoints).map((e) => ({ name: e.name })),
    appConnectionProperties: {
      port: app.port ?? 0,
      protocol: app.protocol ?? '',
      channelAddress: app.channelAddress ?? '',
      maxConcurrency: app.maxConcurrency ?? 0,
      ...(app.health ? { health: app.health } : {}),
    },
  };
  if (actorRuntime) {
    out.actorRuntime = {
      runtimeStatus: ACTOR_STATUS[String(actorRuntime.runtimeStatus)] ?? 0,
      activeActors: list(actorRuntime.activeActors).map((a) => ({ type: a.type, count: a.count })),
      hostReady: actorRuntime.hostReady === true,
      placement: actorRuntime.placement ?? '',
    };
  }
  const wf = m.workflows as Msg | undefined;
  if (wf) out.workflows = { connectedWorkers: wf.connectedWorkers ?? 0 };
  return out;
}
