// POST /v1.0-alpha1/lock/{storeName} and /v1.0-alpha1/unlock/{storeName}, protobuf-JSON bodies
// (camelCase or snake_case fields), `{"success": bool}` and a numeric unlock `status`.
import { DaprError } from '../errors.js';
import type { Exchange, Route } from '../http.js';
import type { LockService } from './service.js';

export function lockRoutes(service: LockService): Route[] {
  return [
    {
      method: 'POST',
      path: '/v1.0-alpha1/lock/{store}',
      group: 'lock',
      handler: async (ex) => {
        const b = await bodyOf(ex);
        const success = await service.tryLock(ex.params.store!, str(b, 'resourceId', 'resource_id'), str(b, 'lockOwner', 'lock_owner'), int(b, 'expiryInSeconds', 'expiry_in_seconds'));
        ex.sendJson(200, { success });
      },
    },
    {
      method: 'POST',
      path: '/v1.0-alpha1/unlock/{store}',
      group: 'unlock',
      handler: async (ex) => {
        const b = await bodyOf(ex);
        const status = await service.unlock(ex.params.store!, str(b, 'resourceId', 'resource_id'), str(b, 'lockOwner', 'lock_owner'));
        ex.sendJson(200, { status });
      },
    },
  ];
}

async function bodyOf(ex: Exchange): Promise<Record<string, unknown>> {
  const raw = await ex.body();
  if (raw.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new DaprError('malformedRequest', `failed deserializing HTTP body: ${(err as Error).message}`, { cause: err });
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new DaprError('malformedRequest', 'failed deserializing HTTP body: expected a JSON object');
  return v as Record<string, unknown>;
}

function pick(b: Record<string, unknown>, names: string[]): unknown {
  for (const n of names) if (b[n] !== undefined && b[n] !== null) return b[n];
  return undefined;
}

function str(b: Record<string, unknown>, ...names: string[]): string {
  const v = pick(b, names);
  if (v === undefined) return '';
  if (typeof v !== 'string') throw new DaprError('malformedRequest', `failed deserializing HTTP body: ${names[0]} must be a string`);
  return v;
}

/** int32 as protojson reads it: a number or a decimal string. */
function int(b: Record<string, unknown>, ...names: string[]): number {
  const v = pick(b, names);
  if (v === undefined) return 0;
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new DaprError('malformedRequest', `failed deserializing HTTP body: ${names[0]} must be an integer`);
  return n;
}
