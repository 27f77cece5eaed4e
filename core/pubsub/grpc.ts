// PublishEvent and BulkPublishEvent(Alpha1) of dapr.proto.runtime.v1.Dapr over the same
// PubSubService as the HTTP publish routes. Failed bulk entries are listed in the answer (the
// call itself succeeds), as Dapr's gRPC API does.
import { DAPR_SERVICE, bytes, stringMap, traceOf, unary, type GrpcMethods, type Msg } from '../grpc.js';
import type { Telemetry } from '../telemetry.js';
import { checkEntryId, publishRecorded, type BulkEntry, type PubSubService } from './service.js';
import { childContext } from './trace.js';

export function pubsubGrpc(service: PubSubService, telemetry: Telemetry): Record<string, GrpcMethods> {
  const bulk = unary(async (req, call) => {
    const pubsubName = String(req.pubsubName ?? '');
    const topic = String(req.topic ?? '');
    service.resolve(pubsubName, topic);
    const seen = new Set<string>();
    const entries: BulkEntry[] = ((req.entries ?? []) as Msg[]).map((e, i) => ({
      entryId: checkEntryId(e.entryId, i, seen),
      data: bytes(e.event),
      contentType: String(e.contentType ?? ''),
      metadata: stringMap(e.metadata),
    }));
    const t = traceOf(call.metadata);
    const failed = await service.bulkPublish(pubsubName, topic, entries, stringMap(req.metadata), () => childContext(t.traceparent, t.tracestate));
    return { failedEntries: failed.map((f) => ({ entryId: f.entryId, error: f.error })) };
  });
  return {
    [DAPR_SERVICE]: {
      PublishEvent: unary(async (req, call) => {
        const pubsubName = String(req.pubsubName ?? '');
        const topic = String(req.topic ?? '');
        service.resolve(pubsubName, topic);
        const t = traceOf(call.metadata);
        const input = {
          pubsubName,
          topic,
          body: bytes(req.data),
          contentType: req.dataContentType ? String(req.dataContentType) : undefined,
          metadata: stringMap(req.metadata),
          trace: childContext(t.traceparent, t.tracestate),
        };
        await publishRecorded(service, telemetry, input, undefined);
        return {};
      }),
      BulkPublishEvent: bulk,
      BulkPublishEventAlpha1: bulk,
    },
  };
}
