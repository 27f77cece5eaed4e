// Service invocation under the caller's app policy (Dapr applies it on the calling sidecar): an
// answer outside 200-399 is a failure the retry may repeat (and the breaker counts), the last
// answer is relayed as-is, dropped answers are drained, and the body is replayed only when it
// fitted a small buffer; a streamed body is sent once. A caller that goes away stops the retry
// loop. A fired timeout or an open breaker becomes Dapr's `500 ERR_DIRECT_INVOKE`
// "failed to invoke, id: <id>, err: <why>".
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { DaprError } from '../../core/errors.js';
import { Exchange } from '../../core/http.js';
import type { CallPolicy, RunOptions } from '../../core/policy.js';
import { hasBody } from './headers.js';
import type { Forwarded } from './forwarded.js';

/** Bodies up to this size are buffered for replay when the policy may retry. */
export const REPLAY_LIMIT = 64 * 1024;

export type InvocationBody = Readable | Buffer | null;

/** A call whose body is already whole (the gRPC API's InvokeService): always replayable. */
export interface BufferedCall {
  body: Buffer | null;
  /** Aborts when the caller went away or its deadline passed. */
  signal: AbortSignal | undefined;
}

const failureStatus = (r: Forwarded): number | undefined => (r.statusCode < 200 || r.statusCode > 399 ? r.statusCode : undefined);
const discard = (r: Forwarded): void => void r.dump();
// Attempts hand their signal only to the Forwarded handler of undici's dispatch (upstream.ts,
// app-channel.ts), which listens with addEventListener: a light one will do.
const RUN_ONCE: RunOptions<Forwarded> = { failureStatus, discard, once: true, lightSignal: true };
const RUN_PLAIN: RunOptions<Forwarded> = { failureStatus, discard, lightSignal: true };

export async function invokeUnderPolicy(
  policy: CallPolicy,
  from: Exchange | BufferedCall,
  target: string,
  attempt: (body: InvocationBody, signal: AbortSignal | undefined) => Promise<Forwarded>,
  /** Something inside the attempt may send it again (the built-in service retries): keep a small body. */
  replayInside = false,
): Promise<Forwarded> {
  let body: InvocationBody;
  let options = RUN_PLAIN;
  if (from instanceof Exchange) {
    const req = from.req;
    body = hasBody(req.headers) ? req : null;
    const retries = policy.canRetry?.() === true;
    if ((retries || replayInside) && body && isSmall(req)) body = await from.body();
    if (retries) {
      // The caller leaving stops the retry loop and aborts the attempt in flight.
      if (body === null || Buffer.isBuffer(body)) options = { failureStatus, discard, caller: from.res, lightSignal: true };
    }
    if (body !== null && !Buffer.isBuffer(body)) options = RUN_ONCE;
  } else {
    body = from.body;
    if (from.signal) options = { failureStatus, discard, signal: from.signal };
  }
  try {
    return await policy.run((signal) => attempt(body, signal), options);
  } catch (err) {
    throw asInvokeFailure(err, target);
  }
}

/**
 * Dapr's built-in service retries (DaprBuiltInServiceRetries) around one attempt to a peer
 * sidecar, when the provider has them on for the target: they repeat a call whose connection
 * failed (refused or unreachable: nothing was sent; reset or closed: only when the body can be
 * sent again), after 1 s by default; any other outcome, answers included, is final. Dapr skips
 * streaming requests (a body of unknown length). Runs inside the app policy's attempt, under
 * its signal.
 */
export function underBuiltInRetries(
  builtIn: CallPolicy | undefined,
  /** The caller's request when its body streams (the HTTP API); undefined for a whole body. */
  req: IncomingMessage | undefined,
  body: InvocationBody,
  signal: AbortSignal | undefined,
  send: (signal: AbortSignal | undefined) => Promise<Forwarded>,
): Promise<Forwarded> {
  if (!builtIn) return send(signal);
  if (body === null || Buffer.isBuffer(body)) return builtIn.run(send, signal ? { signal, discard, isPermanent: unlessConnectionLost } : BUILT_IN_REPLAYABLE);
  if (req?.headers['content-length'] === undefined) return send(signal);
  // A streamed body: again only while none of it was read.
  return builtIn.run(send, { discard, isPermanent: (err) => req.readableDidRead || !isConnectionLost(err, false), ...(signal ? { signal } : {}) });
}

const unlessConnectionLost = (err: unknown): boolean => !isConnectionLost(err, true);
const BUILT_IN_REPLAYABLE: RunOptions<Forwarded> = { discard, isPermanent: unlessConnectionLost };

/**
 * Whether the call failed for want of a connection (what gRPC reports as Unavailable): refused,
 * unreachable or timed out before connecting (nothing reached the peer), and with `replayable`
 * also a connection that broke under the request.
 */
export function isConnectionLost(err: unknown, replayable: boolean): boolean {
  const cause = err instanceof DaprError && err.cause !== undefined ? err.cause : err;
  const code = (cause as { code?: string } | undefined)?.code;
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'UND_ERR_CONNECT_TIMEOUT') return true;
  return replayable && (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE');
}

/** A failure of an invocation (to the app or a peer) as Dapr's ERR_DIRECT_INVOKE (DaprErrors are kept). */
export function asInvokeFailure(err: unknown, target: string): DaprError {
  if (err instanceof DaprError) return err;
  return new DaprError('invokeFailed', `failed to invoke, id: ${target}, err: ${(err as Error).message}`, { cause: err });
}

function isSmall(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return len !== undefined && req.headers['transfer-encoding'] === undefined && Number(len) <= REPLAY_LIMIT;
}
