// TryLockAlpha1 and UnlockAlpha1 of dapr.proto.runtime.v1.Dapr over the same LockService as
// the HTTP routes; the unlock status is the same number on both fronts.
import { DAPR_SERVICE, unary, type GrpcMethods } from '../grpc.js';
import type { LockService } from './service.js';

export function lockGrpc(service: LockService): Record<string, GrpcMethods> {
  return {
    [DAPR_SERVICE]: {
      TryLockAlpha1: unary(async (req) => ({
        success: await service.tryLock(String(req.storeName ?? ''), String(req.resourceId ?? ''), String(req.lockOwner ?? ''), Number(req.expiryInSeconds ?? 0)),
      })),
      UnlockAlpha1: unary(async (req) => ({ status: await service.unlock(String(req.storeName ?? ''), String(req.resourceId ?? ''), String(req.lockOwner ?? '')) })),
    },
  };
}
