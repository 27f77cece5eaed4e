// The gRPC vocabulary shared by the gRPC listener (proxy/) and the blocks' gRPC fronts
// (core/<block>/grpc.ts): messages are proto-loader plain objects (camelCase fields, int64 as
// strings, enums as numbers, bytes as Buffers); a handler returns the response or throws, and
// one place turns what it threw into a gRPC status with Dapr's code and message.
import type { Metadata, ServerUnaryCall, sendUnaryData, UntypedHandleCall } from '@grpc/grpc-js';
// grpc-js's status codes alone: the package itself loads only when the gRPC port is first used.
import { Status as Code } from '@grpc/grpc-js/build/src/constants.js';
import type { Logger } from './component.js';
import { DaprError } from './errors.js';
import type { TraceHeaders } from './telemetry.js';

/** The full name of Dapr's runtime service, as it appears in method paths. */
export const DAPR_SERVICE = 'dapr.proto.runtime.v1.Dapr';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Msg = Record<string, any>;

/** The rpcs of one service a block serves, by method name (the proto's, e.g. `GetState`). */
export type GrpcMethods = Record<string, UntypedHandleCall>;

/** An error with a gRPC code of its own (argument checks of the gRPC front). */
export class GrpcStatusError extends Error {
  constructor(
    readonly code: Code,
    message: string,
  ) {
    super(message);
  }
}

export interface GrpcStatus {
  code: Code;
  details: string;
}

let logger: Logger | undefined;

/** Where unexpected failures (not DaprErrors) are logged with their cause. */
export function setGrpcErrorLogger(l: Logger): void {
  logger = l;
}

/** A DaprError keeps Dapr's code (for gRPC) and message; anything else is INTERNAL and logged. */
export function toGrpcStatus(err: unknown): GrpcStatus {
  if (err instanceof DaprError) return { code: err.grpcCode, details: err.message };
  if (err instanceof GrpcStatusError) return { code: err.code, details: err.message };
  logger?.error(`gRPC API: unexpected failure: ${(err as Error)?.stack ?? String(err)}`);
  return { code: Code.INTERNAL, details: (err as Error)?.message ?? String(err) };
}

/** A unary handler over an async function of the request. */
export function unary<Res>(fn: (req: Msg, call: ServerUnaryCall<Msg, Res>) => Promise<Res>): UntypedHandleCall {
  return (call: ServerUnaryCall<Msg, Res>, cb: sendUnaryData<Res>): void => {
    fn(call.request, call).then(
      (res) => cb(null, res),
      (err: unknown) => cb(toGrpcStatus(err)),
    );
  };
}

/** The first value of a metadata key as a string. */
export function metadataValue(md: Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  return v === undefined ? undefined : typeof v === 'string' ? v : v.toString('utf8');
}

/** The caller's W3C context from gRPC metadata (the listener turns grpc-trace-bin into traceparent). */
export function traceOf(md: Metadata): TraceHeaders {
  return { traceparent: metadataValue(md, 'traceparent'), tracestate: metadataValue(md, 'tracestate') };
}

/** A proto map<string,string> as a fresh plain record. */
export function stringMap(m: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (m && typeof m === 'object') for (const [k, v] of Object.entries(m as Record<string, unknown>)) out[k] = String(v);
  return out;
}

/** A bytes field as a Buffer (proto-loader gives Buffers; absent fields give an empty one). */
export function bytes(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (typeof v === 'string') return Buffer.from(v);
  return Buffer.alloc(0);
}

/** google.protobuf.Any's value (proto-loader leaves Any as `{type_url, value}`). */
export function anyValue(v: unknown): Buffer {
  return bytes((v as Msg | null | undefined)?.value);
}

/** A google.protobuf.Any holding raw bytes (the shape Dapr uses for invocation payloads). */
export function toAny(data: Buffer, typeUrl = ''): Msg {
  return { type_url: typeUrl, value: data };
}
