// The one place that turns a thrown error into Dapr's error body. DaprErrors keep their kind;
// anything else is logged with its cause and answered as ERR_INTERNAL/500.
import type { Logger } from '../../core/component.js';
import { DaprError } from '../../core/errors.js';
import type { Layer } from '../../core/http.js';

export function rescueLayer(logger: Logger): Layer {
  return (next) => async (ex) => {
    try {
      await next(ex);
    } catch (err) {
      const dapr = err instanceof DaprError ? err : new DaprError('internal', 'internal error', { cause: err });
      if (!(err instanceof DaprError)) logger.error(`unhandled error on ${ex.req.method} ${ex.path}: ${(err as Error)?.stack ?? String(err)}`);
      else if (dapr.status >= 500) logger.debug(`${ex.req.method} ${ex.path}: ${dapr.code} ${dapr.message}`);
      if (ex.res.headersSent) {
        ex.res.destroy();
        return;
      }
      // The request may not have been read; drain it so the connection can be reused.
      if (!ex.req.complete) ex.req.resume();
      ex.sendError(dapr);
    }
  };
}
