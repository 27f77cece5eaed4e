// Service invocation: `/v1.0/invoke/{appId}/method/{method*}` and any unmatched path carrying
// `dapr-app-id`. Bodies stream both ways; the callee's status and headers pass through.
// TODO(#4): remote app ids through the callee's sidecar, HTTPEndpoints, FQDN targets.
import { pipeline } from 'node:stream/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { DaprError } from '../../core/errors.js';
import type { Exchange, Handler, Route } from '../../core/http.js';
import type { PolicyProvider } from '../../core/policy.js';
import type { AppChannel } from '../app-channel.js';

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'proxy-connection', 'host', 'dapr-app-id', 'dapr-api-token',
]);

export interface InvokeContext {
  appId: string;
  namespace?: string;
  channel: AppChannel | undefined;
  policies: PolicyProvider;
}

export function invokeRoutes(ctx: InvokeContext): { routes: Route[]; fallback: Handler } {
  const viaPath: Handler = async (ex) => {
    await forward(ctx, ex, ex.params.appId!, '/' + ex.params.method!);
  };
  const fallback: Handler = async (ex) => {
    const target = ex.header('dapr-app-id');
    if (!target) throw new DaprError('invokeNoAppId', 'failed getting app id either from the URL path or the header dapr-app-id');
    await forward(ctx, ex, target, ex.path);
  };
  const routes: Route[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'].map((method) => ({
    method,
    path: '/v1.0/invoke/{appId}/method/{method*}',
    group: 'invoke' as const,
    handler: viaPath,
  }));
  return { routes, fallback };
}

function parseTarget(id: string): { appId: string; namespace?: string } {
  const dot = id.lastIndexOf('.');
  return dot > 0 ? { appId: id.slice(0, dot), namespace: id.slice(dot + 1) } : { appId: id };
}

async function forward(ctx: InvokeContext, ex: Exchange, target: string, method: string): Promise<void> {
  const { appId, namespace } = parseTarget(target);
  const isLocal = appId === ctx.appId && (!namespace || namespace === (ctx.namespace ?? 'default'));
  if (!isLocal) throw new DaprError('invokeFailed', `failed to invoke, id: ${target}, err: app id ${target} not found`);
  const channel = ctx.channel;
  if (!channel) throw new DaprError('invokeFailed', `failed to invoke, id: ${target}, err: app channel is not initialized`);
  if (!channel.isHealthy) throw new DaprError('invokeFailed', `failed to invoke, id: ${target}, err: app is not in a healthy state`);
  const headers = forwardHeaders(ex.req.headers, ctx.appId, appId);
  const path = ex.rawQuery ? `${method}?${ex.rawQuery}` : method;
  const hasBody = ex.req.headers['content-length'] !== undefined || ex.req.headers['transfer-encoding'] !== undefined;
  let res;
  try {
    res = await channel.request({ method: (ex.req.method ?? 'GET') as 'GET', path, headers, body: hasBody ? ex.req : null });
  } catch (err) {
    throw new DaprError('invokeFailed', `failed to invoke, id: ${target}, err: ${(err as Error).message}`, { cause: err });
  }
  ex.res.statusCode = res.statusCode;
  for (const [k, v] of Object.entries(res.headers)) {
    if (v !== undefined && !HOP_BY_HOP.has(k)) ex.res.setHeader(k, v);
  }
  await pipeline(res.body, ex.res);
}

function forwardHeaders(incoming: IncomingHttpHeaders, caller: string, callee: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in incoming) {
    const v = incoming[k];
    if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  }
  out['dapr-caller-app-id'] = caller;
  out['dapr-callee-app-id'] = callee;
  return out;
}
