// --enable-api-logging / Configuration logging.apiLogging: one info line per API call.
import type { Logger } from '../../core/component.js';
import type { Layer } from '../../core/http.js';

export interface ApiLoggingOptions {
  enabled: boolean;
  obfuscateURLs: boolean;
  omitHealthChecks: boolean;
}

export function apiLoggingLayer(opts: ApiLoggingOptions, logger: Logger): Layer | null {
  if (!opts.enabled) return null;
  return (next) => async (ex) => {
    const started = process.hrtime.bigint();
    try {
      await next(ex);
    } finally {
      if (!(opts.omitHealthChecks && ex.path.startsWith('/v1.0/healthz'))) {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        logger.info('HTTP API Called', {
          method: ex.req.method,
          url: opts.obfuscateURLs ? ex.route || ex.path : ex.req.url,
          code: ex.res.statusCode,
          duration: Number(ms.toFixed(3)),
          type: 'log',
          scope: 'dapr.runtime.http-info',
        });
      }
    }
  };
}
