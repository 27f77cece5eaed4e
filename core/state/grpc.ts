// The state rpcs of dapr.proto.runtime.v1.Dapr over the same StateService as the HTTP routes:
// values are bytes here (stored as given), where HTTP stores JSON text.
import { Status as Code } from '@grpc/grpc-js/build/src/constants.js';
import { DaprError } from '../errors.js';
import { DAPR_SERVICE, GrpcStatusError, bytes, stringMap, traceOf, unary, type GrpcMethods, type Msg } from '../grpc.js';
import type { Concurrency, Consistency, StateOptions, StateValue, TransactionOperation } from './component.js';
import type { SaveItem, StateService } from './service.js';

// common.v1.StateOptions enums, by number (0 is unspecified).
const CONCURRENCY: Array<Concurrency | undefined> = [undefined, 'first-write', 'last-write'];
const CONSISTENCY: Array<Consistency | undefined> = [undefined, 'eventual', 'strong'];

function optionsOf(o: Msg | null | undefined): StateOptions {
  if (!o) return {};
  return { concurrency: CONCURRENCY[Number(o.concurrency ?? 0)], consistency: CONSISTENCY[Number(o.consistency ?? 0)] };
}

/** common.v1.Etag: its presence counts (an empty value is an ETag too), as in Dapr. */
function etagOf(e: Msg | null | undefined): string | undefined {
  return e ? String(e.value ?? '') : undefined;
}

function data(v: StateValue | undefined): Buffer {
  if (v === undefined) return Buffer.alloc(0);
  return typeof v === 'string' ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function itemOf(raw: Msg): SaveItem {
  const key = String(raw.key ?? '');
  if (!key) throw new GrpcStatusError(Code.INVALID_ARGUMENT, 'state key cannot be empty');
  return { key, value: bytes(raw.value), etag: etagOf(raw.etag), metadata: stringMap(raw.metadata), options: optionsOf(raw.options) };
}

export function stateGrpc(state: StateService): Record<string, GrpcMethods> {
  return {
    [DAPR_SERVICE]: {
      GetState: unary(async (req) => {
        const r = await state.get(String(req.storeName), String(req.key ?? ''), stringMap(req.metadata), CONSISTENCY[Number(req.consistency ?? 0)] ?? null);
        if (!r) return {};
        return { data: data(r.data), etag: r.etag ?? '', metadata: r.metadata ?? {} };
      }),
      GetBulkState: unary(async (req) => {
        const items = await state.bulkGet(String(req.storeName), (req.keys ?? []) as string[], stringMap(req.metadata), Number(req.parallelism ?? 0));
        return {
          items: items.map((it) => (it.error ? { key: it.key, error: it.error } : { key: it.key, data: data(it.data), etag: it.etag ?? '', metadata: it.metadata ?? {} })),
        };
      }),
      SaveState: unary(async (req) => {
        const store = String(req.storeName);
        state.check(store);
        const items = ((req.states ?? []) as Msg[]).map(itemOf);
        if (items.length > 0) await state.save(store, items);
        return {};
      }),
      DeleteState: unary(async (req) => {
        await state.delete(String(req.storeName), String(req.key ?? ''), etagOf(req.etag), optionsOf(req.options), stringMap(req.metadata));
        return {};
      }),
      DeleteBulkState: unary(async (req) => {
        const store = String(req.storeName);
        state.check(store);
        for (const s of (req.states ?? []) as Msg[]) {
          await state.delete(store, String(s.key ?? ''), etagOf(s.etag), optionsOf(s.options), stringMap(s.metadata));
        }
        return {};
      }),
      ExecuteStateTransaction: unary(async (req, call) => {
        const store = String(req.storeName);
        state.checkTransactional(store);
        const ops: TransactionOperation[] = ((req.operations ?? []) as Msg[]).map((o): TransactionOperation => {
          const r = (o.request ?? {}) as Msg;
          const key = String(r.key ?? '');
          const common = { key, etag: etagOf(r.etag), metadata: stringMap(r.metadata), options: optionsOf(r.options) };
          if (o.operationType === 'upsert') return { operation: 'upsert', request: { ...common, value: bytes(r.value) } };
          if (o.operationType === 'delete') return { operation: 'delete', request: common };
          throw new DaprError('stateOperationNotSupported', `operation type ${String(o.operationType)} not supported`);
        });
        const t = traceOf(call.metadata);
        await state.transaction(store, ops, stringMap(req.metadata), { traceparent: t.traceparent ?? '', tracestate: t.tracestate ?? '' });
        return {};
      }),
      QueryStateAlpha1: unary(async (req) => {
        const res = await state.query(String(req.storeName), String(req.query ?? ''), stringMap(req.metadata));
        return {
          results: res.results.map((r) => ({ key: r.key, data: data(r.data), etag: r.etag ?? '', error: r.error ?? '' })),
          token: res.token ?? '',
          metadata: res.metadata ?? {},
        };
      }),
    },
  };
}
