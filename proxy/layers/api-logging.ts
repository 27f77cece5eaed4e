// --enable-api-logging / Configuration logging.apiLogging: one info line per API call with
// Dapr's fields (method "<METHOD> <path>", duration ms, code, size, useragent), plus the trace
// id of the call: the API span's when tracing is on, else the caller's `traceparent`.
import type { Logger } from '../../core/component.js';
import type { Layer } from '../../core/http.js';

export interface ApiLoggingOptions {
  enabled: boolean;
  obfuscateURLs: boolean;
  omitHealthChecks: boolean;
}

/** `logger` should be pinned to info: API lines are written even when --log-level is higher. */
export function apiLoggingLayer(opts: ApiLoggingOptions, logger: Logger): Layer | null {
  if (!opts.enabled) return null;
  const log = logger.child({ scope: 'dapr.runtime.http-info' });
  return (next) => async (ex) => {
    const started = performance.now();
    try {
      await next(ex);
    } finally {
      if (!(opts.omitHealthChecks && ex.path.startsWith('/v1.0/healthz'))) {
        const req = ex.req;
        const fields: Record<string, unknown> = {
          method: `${req.method} ${opts.obfuscateURLs ? ex.route || ex.path : ex.path}`,
          code: ex.res.statusCode,
          duration: Math.floor(performance.now() - started),
          size: Number(ex.res.getHeader('content-length') ?? 0) || 0,
        };
        const ua = req.headers['user-agent'];
        if (ua) fields.useragent = ua;
        const traceparent = ex.span?.traceparent ?? ex.header('traceparent');
        if (traceparent && traceparent.length >= 55) {
          fields.trace_id = traceparent.slice(3, 35);
          fields.span_id = traceparent.slice(36, 52);
        }
        log.info('HTTP API Called', fields);
      }
    }
  };
}
