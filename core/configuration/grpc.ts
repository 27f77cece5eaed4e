// The configuration rpcs of dapr.proto.runtime.v1.Dapr over the same ConfigurationService as
// the HTTP routes. SubscribeConfiguration streams: first a message with the subscription id,
// then one per update; the subscription ends when the caller unsubscribes or goes away.
import type { ServerWritableStream } from '@grpc/grpc-js';
import { DAPR_SERVICE, stringMap, toGrpcStatus, unary, type GrpcMethods, type Msg } from '../grpc.js';
import type { ConfigurationUpdate } from './component.js';
import type { ConfigurationService } from './service.js';

/** common.v1.ConfigurationItem values; a deleted key is an empty item (a proto map has no null). */
function items(update: ConfigurationUpdate): Record<string, Msg> {
  const out: Record<string, Msg> = {};
  for (const [k, it] of Object.entries(update)) out[k] = { value: it?.value ?? '', version: it?.version ?? '', metadata: it?.metadata ?? {} };
  return out;
}

export function configurationGrpc(service: ConfigurationService): Record<string, GrpcMethods> {
  // Open streams by subscription id: UnsubscribeConfiguration ends its stream, as in Dapr.
  const streams = new Map<string, () => void>();
  const get = unary(async (req) => ({ items: items(await service.get(String(req.storeName ?? ''), (req.keys ?? []) as string[], stringMap(req.metadata))) }));
  const subscribe = (call: ServerWritableStream<Msg, Msg>): void => {
    const req = call.request;
    const store = String(req.storeName ?? '');
    let id: string | undefined;
    let done = false;
    const end = (): void => {
      if (done) return;
      done = true;
      if (id) {
        streams.delete(id);
        void service.unsubscribe(store, id);
      }
    };
    call.on('cancelled', end);
    call.on('close', end);
    service
      .subscribe(store, (req.keys ?? []) as string[], stringMap(req.metadata), async (subId, update) => {
        if (!done) call.write({ id: subId, items: items(update) });
      })
      .then(
        (subId) => {
          id = subId;
          if (done) return void service.unsubscribe(store, subId);
          streams.set(subId, () => {
            done = true;
            streams.delete(subId);
            call.end();
          });
          call.write({ id: subId, items: {} });
        },
        (err: unknown) => call.emit('error', toGrpcStatus(err)),
      );
  };
  const unsubscribe = unary(async (req) => {
    const id = String(req.id ?? '');
    const failure = await service.unsubscribe(String(req.storeName ?? ''), id);
    streams.get(id)?.();
    return failure ? { ok: false, message: failure } : { ok: true, message: '' };
  });
  return {
    [DAPR_SERVICE]: {
      GetConfiguration: get,
      GetConfigurationAlpha1: get,
      SubscribeConfiguration: subscribe,
      SubscribeConfigurationAlpha1: subscribe,
      UnsubscribeConfiguration: unsubscribe,
      UnsubscribeConfigurationAlpha1: unsubscribe,
    },
  };
}
