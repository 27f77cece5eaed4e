// Tracing on the HTTP API: one CLIENT span per request (Dapr models the sidecar as the app's
// client), child of the app's `traceparent`/`tracestate` or a new root. The request's trace
// headers are replaced by the span's own, so every handler that forwards headers or reads the
// context (invocation, publish) continues this span. The response carries the span's
// `traceparent` unless the handler sets one (a relayed callee's). Absent when samplingRate is "0":
// then the app's headers pass through untouched. Health checks are never traced.
import type { Socket } from 'node:net';
import type { Exchange, Handler, Layer } from '../../core/http.js';
import type { Span } from '../../core/telemetry.js';
import type { SidecarTelemetry } from '../../telemetry/sidecar-telemetry.js';

export function traceLayer(telemetry: SidecarTelemetry): Layer | null {
  const tracer = telemetry.tracer;
  if (!tracer) return null;
  return (next) => (ex) => {
    if (ex.path.includes('/healthz')) return next(ex);
    const span = tracer.startSpan(ex.path, 'client', { traceparent: ex.header('traceparent'), tracestate: ex.header('tracestate') });
    adopt(ex, span);
    ex.res.setHeader('traceparent', span.traceparent!);
    if (span.tracestate) ex.res.setHeader('tracestate', span.tracestate);
    // An unsampled span only carries context: nothing to end, so no async frame around next.
    // The socket is detached from the request once the response is done; keep it for the span.
    return span.isRecording ? recorded(next, ex, span, describe, ex.req.socket) : next(ex);
  };
}

/** The request continues `span`: it becomes the exchange's span, and its trace headers the span's. */
function adopt(ex: Exchange, span: Span): void {
  ex.span = span;
  const headers = ex.req.headers;
  headers.traceparent = span.traceparent!;
  if (span.tracestate) headers.tracestate = span.tracestate;
  else delete headers.tracestate;
}

/** Runs `next` under a sampled span: a thrown error is recorded, `finish` names and describes the span, then it ends. */
async function recorded<T>(next: Handler, ex: Exchange, span: Span, finish: (span: Span, ex: Exchange, extra: T) => void, extra: T): Promise<void> {
  try {
    await next(ex);
  } catch (err) {
    span.recordError(err);
    throw err;
  } finally {
    finish(span, ex, extra);
    span.end();
  }
}

/** Names and attributes as Dapr's HTTP API sets them (computed for sampled spans only). */
function describe(span: Span, ex: Exchange, socket: Socket | null): void {
  const req = ex.req;
  const method = req.method ?? 'GET';
  const status = ex.res.statusCode;
  span.setAttribute('dapr.protocol', 'http');
  span.setAttribute('dapr.api', `${method} ${ex.path}`);
  span.setAttribute('dapr.status_code', status);
  span.setAttribute('http.request.method', method);
  span.setAttribute('url.full', req.url ?? ex.path);
  const addr = socket?.remoteAddress;
  if (addr) span.setAttribute('server.address', addr);
  if (socket?.remotePort) span.setAttribute('server.port', socket.remotePort);
  for (const k in req.headers) {
    if (k.startsWith('dapr-')) {
      const v = req.headers[k];
      const last = Array.isArray(v) ? v[v.length - 1] : v;
      if (last) span.setAttribute(k, last);
    }
  }
  const segs = ex.path.split('/');
  // segs: ['', 'v1.0', '<api>', ...]
  const api = segs[1]?.startsWith('v1') ? segs[2] : undefined;
  const statement = `${method} ${ex.path}`;
  switch (api) {
    case 'invoke': {
      // /v1.0/invoke/<app>/method/<method...>
      const target = decodeSafe(segs[3] ?? '');
      const m = segs.slice(5).join('/');
      span.updateName(`CallLocal/${target}/${m}`);
      span.setAttribute('rpc.service', 'ServiceInvocation');
      span.setAttribute('net.peer.name', target);
      break;
    }
    case 'state':
    case 'secrets':
    case 'bindings': {
      span.setAttribute('db.system', api);
      span.setAttribute('db.connection_string', api);
      span.setAttribute('db.statement', statement);
      span.setAttribute('db.name', decodeSafe(segs[3] ?? ''));
      break;
    }
    case 'publish':
      span.setAttribute('messaging.system', 'pubsub');
      span.setAttribute('messaging.destination.name', decodeSafe(segs.slice(4).join('/')));
      break;
    case 'actors': {
      // /v1.0/actors/<type>/<id>/<kind>/...
      const type = decodeSafe(segs[3] ?? '');
      const id = decodeSafe(segs[4] ?? '');
      span.setAttribute('dapr.actor', `${type}.${id}`);
      if (segs[5] === 'method') {
        span.updateName(`CallActor/${type}/${segs.slice(6).join('/')}`);
        span.setAttribute('rpc.service', 'ServiceInvocation');
        span.setAttribute('net.peer.name', `${type}.${id}`);
      } else if (segs[5] === 'state') {
        span.setAttribute('db.system', 'state');
        span.setAttribute('db.connection_string', 'state');
        span.setAttribute('db.statement', statement);
        span.setAttribute('db.name', 'actor');
      } else if (segs[5] === 'reminders' || segs[5] === 'timers') {
        span.updateName(`${segs[5] === 'reminders' ? 'Reminder' : 'Timer'}/${type}`);
      }
      break;
    }
    default: {
      // The forward proxy: an absolute-form target names the app (or host) being called.
      if (ex.path.startsWith('http://')) {
        const slash = ex.path.indexOf('/', 7);
        const host = slash < 0 ? ex.path.slice(7) : ex.path.slice(7, slash);
        span.updateName(`CallLocal/${host}/${slash < 0 ? '' : ex.path.slice(slash + 1)}`);
        span.setAttribute('rpc.service', 'ServiceInvocation');
        span.setAttribute('net.peer.name', host);
        break;
      }
      // Invocation by `dapr-app-id` header on an unmatched path.
      const target = ex.route === '' ? ex.header('dapr-app-id') : undefined;
      if (target) {
        span.updateName(`CallLocal/${target}/${ex.path.replace(/^\/+/, '')}`);
        span.setAttribute('rpc.service', 'ServiceInvocation');
        span.setAttribute('net.peer.name', target);
      }
    }
  }
  span.setHttpStatus(status);
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function withoutLeadingSlashes(path: string): string {
  let i = 0;
  while (path.charCodeAt(i) === 47) i++;
  return i === 0 ? path : path.slice(i);
}

/**
 * Tracing on the internal (sidecar-to-sidecar) and public listeners: a SERVER span
 * `CallLocal/<appId>/<method>`, child of the caller's context. The app receives this span as its
 * parent (the caller app's own `traceparent` is replaced); the response is left alone so the
 * calling sidecar answers its app with its own API span, as Dapr does. The span's name and
 * attributes are computed for sampled spans only, when the request is done.
 */
export function inboundTraceLayer(telemetry: SidecarTelemetry, appId: string): Layer | null {
  const tracer = telemetry.tracer;
  if (!tracer) return null;
  return (next) => (ex) => {
    const span = tracer.startSpan(ex.path, 'server', { traceparent: ex.header('traceparent'), tracestate: ex.header('tracestate') });
    adopt(ex, span);
    // An unsampled span only carries context: nothing to end, so no async frame around next.
    return span.isRecording ? recorded(next, ex, span, describeInbound, appId) : next(ex);
  };
}

function describeInbound(span: Span, ex: Exchange, appId: string): void {
  const method = withoutLeadingSlashes(ex.path);
  span.updateName(`CallLocal/${appId}/${method}`);
  span.setAttribute('dapr.protocol', 'http');
  span.setAttribute('rpc.service', 'ServiceInvocation');
  span.setAttribute('dapr.invoke_method', method);
  span.setAttribute('dapr.status_code', ex.res.statusCode);
  span.setHttpStatus(ex.res.statusCode);
}
