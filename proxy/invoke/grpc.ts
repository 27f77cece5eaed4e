// InvokeService of the gRPC API: the message becomes an HTTP call to the target app through
// the same Invoker as /v1.0/invoke (this app: the app channel; another app: its sidecar's
// internal port, then its app channel), and the app's answer becomes the InvokeResponse. An app
// status outside 2xx is a gRPC error coded as Dapr codes it, with `dapr-http-status` set.
import type { ServerUnaryCall, sendUnaryData, UntypedHandleCall } from '@grpc/grpc-js';
// Light parts of grpc-js: the package itself loads only when the gRPC port is first used.
import { Status as Code } from '@grpc/grpc-js/build/src/constants.js';
import { Metadata } from '@grpc/grpc-js/build/src/metadata.js';
import { DAPR_SERVICE, GrpcStatusError, anyValue, toAny, toGrpcStatus, type GrpcMethods, type Msg } from '../../core/grpc.js';
import type { Invoker } from './handler.js';

// common.v1.HTTPExtension.Verb, by number; NONE (no extension) is a POST, as in Dapr.
const VERBS = ['POST', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

// Metadata that belongs to this hop (HTTP/2 and gRPC framing, our token), not to the app.
const NOT_FORWARDED = new Set(['content-type', 'te', 'user-agent', 'accept-encoding', 'grpc-accept-encoding', 'grpc-encoding', 'grpc-timeout', 'dapr-api-token', 'connect-protocol-version', 'connect-timeout-ms']);

/** Go's http.StatusText for the statuses an app usually answers; others get "Unknown". */
const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout',
  409: 'Conflict', 410: 'Gone', 413: 'Request Entity Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Entity',
  429: 'Too Many Requests', 500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

/** Dapr's CodeFromHTTPStatus. */
export function codeFromHttpStatus(status: number): Code {
  if (status >= 200 && status < 300) return Code.OK;
  const map: Record<number, Code> = {
    408: Code.CANCELLED, 500: Code.UNKNOWN, 400: Code.INTERNAL, 504: Code.DEADLINE_EXCEEDED, 404: Code.NOT_FOUND, 409: Code.ALREADY_EXISTS,
    403: Code.PERMISSION_DENIED, 401: Code.UNAUTHENTICATED, 429: Code.RESOURCE_EXHAUSTED, 501: Code.UNIMPLEMENTED, 503: Code.UNAVAILABLE,
  };
  return map[status] ?? Code.UNKNOWN;
}

function headersOf(md: Metadata): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(md.getMap())) {
    if (k.startsWith(':') || k.startsWith('grpc-') || k.endsWith('-bin') || NOT_FORWARDED.has(k)) continue;
    out[k] = String(v);
  }
  return out;
}

function deadlineSignal(call: ServerUnaryCall<Msg, Msg>): AbortSignal {
  const ac = new AbortController();
  call.on('cancelled', () => ac.abort(new Error('the caller went away')));
  const d = call.getDeadline();
  const ms = typeof d === 'number' ? d : d.getTime();
  if (Number.isFinite(ms)) setTimeout(() => ac.abort(new Error('context deadline exceeded')), Math.max(0, ms - Date.now())).unref();
  return ac.signal;
}

export function invokeGrpc(invoker: Invoker): Record<string, GrpcMethods> {
  const InvokeService: UntypedHandleCall = (call: ServerUnaryCall<Msg, Msg>, cb: sendUnaryData<Msg>): void => {
    void (async () => {
      const req = call.request;
      const m = (req.message ?? {}) as Msg;
      if (!req.id) throw new GrpcStatusError(Code.INVALID_ARGUMENT, 'failed getting app id either from the URL path or the header dapr-app-id');
      const ext = (m.httpExtension ?? {}) as Msg;
      const headers = headersOf(call.metadata);
      if (m.contentType) headers['content-type'] = String(m.contentType);
      const data = anyValue(m.data);
      const up = await invoker.call({
        target: String(req.id),
        method: String(m.method ?? ''),
        verb: VERBS[Number(ext.verb ?? 0)] ?? 'POST',
        query: String(ext.querystring ?? ''),
        headers,
        body: data.length > 0 ? data : null,
        signal: deadlineSignal(call),
      });
      const body = await up.collect();
      const out = new Metadata();
      out.set('dapr-http-status', String(up.statusCode));
      call.sendMetadata(out);
      const code = codeFromHttpStatus(up.statusCode);
      if (code !== Code.OK) {
        cb({ code, details: STATUS_TEXT[up.statusCode] ?? 'Unknown' });
        return;
      }
      const ct = up.headers['content-type'];
      cb(null, { data: toAny(body), contentType: Array.isArray(ct) ? ct[0] : (ct ?? '') });
    })().catch((err: unknown) => cb(toGrpcStatus(err)));
  };
  return { [DAPR_SERVICE]: { InvokeService } };
}
