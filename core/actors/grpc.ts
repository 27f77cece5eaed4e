// The actor rpcs of dapr.proto.runtime.v1.Dapr over the same operations as the HTTP actor API
// (operations.ts). Payloads are bytes here: reminder and timer data that is JSON text is kept
// as that JSON value (what the HTTP API stores), other bytes as a base64 string.
import type { Metadata } from '@grpc/grpc-js';
import { DaprError } from '../errors.js';
import { DAPR_SERVICE, anyValue, bytes, stringMap, traceOf, unary, type GrpcMethods, type Msg } from '../grpc.js';
import type { ActorStateOperation } from '../state/actor-state.js';
import { callHeaders } from './host.js';
import { checkTarget, createReminder, createTimer, deleteReminder, deleteTimer, getActorState, invokeActor, transactActorState } from './operations.js';
import type { ActorsService } from './service.js';

function target(req: Msg): { type: string; id: string } {
  return checkTarget(String(req.actorType ?? ''), String(req.actorId ?? ''));
}

function dataValue(v: unknown): unknown {
  const b = bytes(v);
  if (b.length === 0) return undefined;
  try {
    return JSON.parse(b.toString('utf8'));
  } catch {
    return b.toString('base64');
  }
}

/** The call's metadata as the headers an actor method receives (gRPC framing left out). */
function headersOf(md: Metadata, extra: Record<string, string>): Record<string, string | string[]> {
  const raw: Record<string, string> = {};
  for (const [k, v] of Object.entries(md.getMap())) {
    if (!k.startsWith(':') && !k.startsWith('grpc-') && !k.endsWith('-bin') && k !== 'content-type' && k !== 'te' && k !== 'user-agent') raw[k] = String(v);
  }
  return callHeaders({ ...raw, ...extra });
}

export function actorsGrpc(s: ActorsService): Record<string, GrpcMethods> {
  return {
    [DAPR_SERVICE]: {
      InvokeActor: unary(async (req, call) => {
        const { type, id } = target(req);
        const r = await invokeActor(s, type, id, String(req.method ?? ''), headersOf(call.metadata, stringMap(req.metadata)), bytes(req.data), '', traceOf(call.metadata));
        if (r.status >= 400) throw new DaprError('actorInvokeMethod', `error invoke actor method: ${r.body.toString('utf8') || `status ${r.status}`}`);
        return { data: r.body };
      }),
      GetActorState: unary(async (req) => {
        const { type, id } = target(req);
        const r = await getActorState(s, type, id, String(req.key ?? ''));
        if (!r) return {};
        return { data: typeof r.data === 'string' ? Buffer.from(r.data) : bytes(r.data), metadata: r.metadata ?? {} };
      }),
      ExecuteActorStateTransaction: unary(async (req) => {
        const { type, id } = target(req);
        const ops: ActorStateOperation[] = ((req.operations ?? []) as Msg[]).map((o, i) => {
          const key = String(o.key ?? '');
          if (!key) throw new DaprError('malformedRequest', `operation ${i}: key is required`);
          const metadata = stringMap(o.metadata);
          const op = String(o.operationType ?? '').toLowerCase();
          if (op === 'upsert') return { operation: 'upsert', key, value: anyValue(o.value), metadata };
          if (op === 'delete') return { operation: 'delete', key, metadata };
          throw new DaprError('stateOperationNotSupported', `operation type ${String(o.operationType)} not supported`);
        });
        await transactActorState(s, type, id, ops);
        return {};
      }),
      RegisterActorReminder: unary(async (req) => {
        const { type, id } = target(req);
        const ttl = String(req.ttl ?? '');
        await createReminder(s, type, id, String(req.name ?? ''), { dueTime: String(req.dueTime ?? ''), period: String(req.period ?? ''), ...(ttl ? { ttl } : {}), data: dataValue(req.data), overwrite: true });
        return {};
      }),
      UnregisterActorReminder: unary(async (req) => {
        const { type, id } = target(req);
        await deleteReminder(s, type, id, String(req.name ?? ''));
        return {};
      }),
      RegisterActorTimer: unary(async (req) => {
        const { type, id } = target(req);
        const ttl = String(req.ttl ?? '');
        createTimer(s, type, id, String(req.name ?? ''), {
          dueTime: String(req.dueTime ?? ''),
          period: String(req.period ?? ''),
          ...(ttl ? { ttl } : {}),
          callback: String(req.callback ?? ''),
          data: dataValue(req.data),
        });
        return {};
      }),
      UnregisterActorTimer: unary(async (req) => {
        const { type, id } = target(req);
        deleteTimer(s, type, id, String(req.name ?? ''));
        return {};
      }),
    },
  };
}
