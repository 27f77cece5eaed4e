// The cryptography block: Dapr's header validation, `dapr.io/enc/v1` through the provider's key
// wrapping (under the component outbound policy, recorded as crypto component metrics).
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { isTruthy } from '../../resources/decode.js';
import { DaprError } from '../errors.js';
import type { PolicyProvider } from '../policy.js';
import type { Span, Telemetry } from '../telemetry.js';
import type { CryptoProvider } from './component.js';
import { cipherName, createDecryptStream, createEncryptStream, keyAlgorithm, type Cipher } from './scheme.js';
import { Spool } from './spool.js';

/** The whole output: in memory, or spooled to a temporary file when large. */
export interface CryptoResult {
  data: Buffer | Readable;
  length: number;
}

export interface EncryptRequest {
  keyName: string | undefined;
  algorithm: string | undefined;
  cipher: string | undefined;
  omitDecryptionKeyName: string | undefined;
  decryptionKeyName: string | undefined;
}

export class CryptoService {
  constructor(
    private readonly providers: ReadonlyMap<string, CryptoProvider>,
    private readonly policies: PolicyProvider,
    private readonly telemetry: Telemetry,
    private readonly spoolDir: string,
  ) {}

  get names(): string[] {
    return [...this.providers.keys()];
  }

  private provider(name: string): CryptoProvider {
    if (this.providers.size === 0) throw new DaprError('cryptoProvidersNotConfigured', 'crypto providers not configured');
    if (!name) throw new DaprError('badRequest', 'missing component name');
    const p = this.providers.get(name);
    if (!p) throw new DaprError('cryptoProviderNotFound', `crypto provider ${name} not found`);
    return p;
  }

  /** One provider call under the outbound policy, recorded as a crypto component metric (and child span of `parent`). */
  private async call(name: string, operation: string, parent: Span | undefined, op: () => Promise<Buffer>): Promise<Buffer> {
    const started = performance.now();
    let ok = false;
    try {
      const v = await this.policies.componentOutbound(name).run(op);
      ok = true;
      return v;
    } finally {
      this.telemetry.recordComponent('crypto', name, operation, ok, performance.now() - started, parent);
    }
  }

  /** Encrypts `body` completely before answering; the result is a Buffer or a spooled stream. */
  async encrypt(name: string, req: EncryptRequest, body: Readable, parent?: Span): Promise<CryptoResult> {
    const p = this.provider(name);
    if (!req.keyName) throw new DaprError('badRequest', "missing header 'dapr-key-name'");
    if (!req.algorithm) throw new DaprError('badRequest', "missing header 'dapr-key-wrap-algorithm'");
    const alg = keyAlgorithm(req.algorithm);
    if (!alg) throw failed(`option Algorithm is not valid: algorithm ${req.algorithm.toUpperCase()} is not supported`);
    let cipher: Cipher = 'AES-GCM';
    if (req.cipher) {
      const c = cipherName(req.cipher);
      if (!c) throw failed(`option Cipher is not valid: cipher ${req.cipher.toUpperCase()} is not supported`);
      cipher = c;
    }
    const keyName = req.keyName;
    const omit = req.omitDecryptionKeyName !== undefined && isTruthy(req.omitDecryptionKeyName);
    const manifestKeyName = omit ? '' : req.decryptionKeyName || keyName;
    let enc;
    try {
      enc = await createEncryptStream({ wrapKey: (k) => this.call(name, 'wrapKey', parent, () => p.wrapKey(k, alg, keyName)), algorithm: alg, cipher, manifestKeyName });
    } catch (err) {
      throw failed(`failed to wrap the file key: ${(err as Error).message}`, err);
    }
    return this.run(body, enc);
  }

  async decrypt(name: string, keyName: string | undefined, body: Readable, parent?: Span): Promise<CryptoResult> {
    const p = this.provider(name);
    const dec = createDecryptStream({ keyName: keyName ?? '', unwrapKey: (w, alg, k) => this.call(name, 'unwrapKey', parent, () => p.unwrapKey(w, alg, k)) });
    return this.run(body, dec);
  }

  private async run(body: Readable, transform: NodeJS.ReadWriteStream): Promise<CryptoResult> {
    const spool = new Spool(this.spoolDir);
    // Not pipeline(body, ...): a failure must leave the request socket alive for the error answer.
    const onBodyError = (err: Error): void => void transform.emit('error', err);
    body.once('error', onBodyError);
    body.pipe(transform as unknown as NodeJS.WritableStream);
    try {
      await pipeline(transform, spool);
    } catch (err) {
      body.unpipe(transform as unknown as NodeJS.WritableStream);
      body.resume(); // drain what the client still sends
      await spool.discard();
      if (err instanceof DaprError) throw err;
      throw failed((err as Error).message, err);
    }
    body.off('error', onBodyError);
    return { data: spool.result(), length: spool.length };
  }
}

function failed(message: string, cause?: unknown): DaprError {
  return new DaprError('crypto', `failed to perform operation: ${message}`, cause ? { cause } : undefined);
}
