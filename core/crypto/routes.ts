// PUT /v1.0-alpha1/crypto/{name}/encrypt|decrypt with Dapr's headers; the body streams in, the
// answer is sent once complete (application/octet-stream). Subtle crypto answers 501, as in
// standard Dapr builds. The sidecar's request size limit does not apply: bodies of any size
// stream in 64 KiB segments.
import { pipeline } from 'node:stream/promises';
import { DaprError } from '../errors.js';
import type { Exchange, Route } from '../http.js';
import type { CryptoResult, CryptoService } from './service.js';

export function cryptoRoutes(service: CryptoService): Route[] {
  const subtle = async (): Promise<void> => {
    throw new DaprError('apiUnimplemented', 'subtle crypto API is not implemented');
  };
  return [
    {
      method: 'PUT',
      path: '/v1.0-alpha1/crypto/{name}/encrypt',
      group: 'crypto',
      handler: async (ex) => {
        const r = await service.encrypt(
          ex.params.name!,
          {
            keyName: ex.header('dapr-key-name'),
            algorithm: ex.header('dapr-key-wrap-algorithm'),
            cipher: ex.header('dapr-data-encryption-cipher'),
            omitDecryptionKeyName: ex.header('dapr-omit-decryption-key-name'),
            decryptionKeyName: ex.header('dapr-decryption-key-name'),
          },
          ex.req,
          ex.span,
        );
        await send(ex, r);
      },
    },
    {
      method: 'PUT',
      path: '/v1.0-alpha1/crypto/{name}/decrypt',
      group: 'crypto',
      handler: async (ex) => send(ex, await service.decrypt(ex.params.name!, ex.header('dapr-key-name'), ex.req, ex.span)),
    },
    { method: 'POST', path: '/v1.0-alpha1/subtlecrypto/{name}/{op}', group: 'subtlecrypto', handler: subtle },
  ];
}

async function send(ex: Exchange, r: CryptoResult): Promise<void> {
  if (Buffer.isBuffer(r.data)) return ex.sendRaw(200, r.data, 'application/octet-stream');
  ex.res.statusCode = 200;
  ex.res.setHeader('content-type', 'application/octet-stream');
  ex.res.setHeader('content-length', r.length);
  await pipeline(r.data, ex.res);
}
