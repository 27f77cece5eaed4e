// GetSecret and GetBulkSecret of dapr.proto.runtime.v1.Dapr over the same SecretsService as the
// HTTP routes (scopes and policies included).
import { DAPR_SERVICE, stringMap, unary, type GrpcMethods } from '../grpc.js';
import type { SecretsService } from './service.js';

export function secretsGrpc(secrets: SecretsService): Record<string, GrpcMethods> {
  return {
    [DAPR_SERVICE]: {
      GetSecret: unary(async (req) => ({ data: await secrets.get(String(req.storeName ?? ''), String(req.key ?? ''), stringMap(req.metadata)) })),
      GetBulkSecret: unary(async (req) => {
        const all = await secrets.bulk(String(req.storeName ?? ''), stringMap(req.metadata));
        const data: Record<string, { secrets: Record<string, string> }> = {};
        for (const [k, v] of Object.entries(all)) data[k] = { secrets: v };
        return { data };
      }),
    },
  };
}
