// InvokeBinding of dapr.proto.runtime.v1.Dapr over the same BindingsService as
// POST /v1.0/bindings/{name}: data is passed as given (bytes), trace context and baggage from
// the call's metadata go into the binding's metadata.
import { DAPR_SERVICE, bytes, metadataValue, stringMap, traceOf, unary, type GrpcMethods } from '../grpc.js';
import { addCallContext } from './routes.js';
import type { BindingsService } from './service.js';

export function bindingsGrpc(service: BindingsService): Record<string, GrpcMethods> {
  return {
    [DAPR_SERVICE]: {
      InvokeBinding: unary(async (req, call) => {
        const metadata = stringMap(req.metadata);
        const t = traceOf(call.metadata);
        addCallContext(metadata, t.traceparent, t.tracestate, metadataValue(call.metadata, 'baggage'));
        const resp = await service.invoke(String(req.name ?? ''), String(req.operation ?? ''), bytes(req.data), metadata, {});
        return { data: resp?.data ? bytes(resp.data) : Buffer.alloc(0), metadata: resp?.metadata ?? {} };
      }),
    },
  };
}
