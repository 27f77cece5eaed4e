// Service invocation under the caller's app policy (Dapr applies it on the calling sidecar): an
// answer outside 200-399 is a failure the retry may repeat (and the breaker counts), the last
// answer is relayed as-is, dropped answers are drained, and the body is replayed only when it
// fitted a small buffer; a streamed body is sent once. A fired timeout or an open breaker
// becomes Dapr's `500 ERR_DIRECT_INVOKE` "failed to invoke, id: <id>, err: <why>".
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { DaprError } from '../../core/errors.js';
import type { CallPolicy, RunOptions } from '../../core/policy.js';
import { hasBody } from './headers.js';
import type { UpstreamResponse } from './upstream.js';

/** Bodies up to this size are buffered for replay when the policy may retry. */
export const REPLAY_LIMIT = 64 * 1024;

export type InvocationBody = Readable | Buffer | null;

const RUN_OPTIONS: RunOptions<UpstreamResponse> = {
  failureStatus: (r) => (r.statusCode < 200 || r.statusCode > 399 ? r.statusCode : undefined),
  discard: (r) => void r.body.dump().catch(() => undefined),
};
const RUN_ONCE: RunOptions<UpstreamResponse> = { ...RUN_OPTIONS, once: true };

export async function invokeUnderPolicy(
  policy: CallPolicy,
  req: IncomingMessage,
  target: string,
  attempt: (body: InvocationBody, signal: AbortSignal | undefined) => Promise<UpstreamResponse>,
): Promise<UpstreamResponse> {
  let body: InvocationBody = hasBody(req.headers) ? req : null;
  if (body && policy.canRetry?.() && isSmall(req)) body = await readAll(req);
  try {
    return await policy.run((signal) => attempt(body, signal), body === null || Buffer.isBuffer(body) ? RUN_OPTIONS : RUN_ONCE);
  } catch (err) {
    if (err instanceof DaprError) throw err;
    throw new DaprError('invokeFailed', `failed to invoke, id: ${target}, err: ${(err as Error).message}`, { cause: err });
  }
}

function isSmall(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return len !== undefined && req.headers['transfer-encoding'] === undefined && Number(len) <= REPLAY_LIMIT;
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
