// W3C `baggage` on the HTTP API: an invalid header is refused with Dapr's plain-text 400; a valid
// one is echoed on the response (and travels on with the request headers it came in).
import type { Layer } from '../../core/http.js';
import { baggageProblem } from '../../telemetry/tracing/context.js';

export function baggageLayer(): Layer {
  return (next) => async (ex) => {
    const baggage = ex.header('baggage');
    if (baggage === undefined) return next(ex);
    const problem = baggageProblem(baggage);
    if (problem) {
      if (!ex.req.complete) ex.req.resume();
      ex.sendRaw(400, `invalid baggage header: ${problem}`, 'text/plain; charset=utf-8');
      return;
    }
    ex.res.setHeader('baggage', baggage);
    return next(ex);
  };
}
