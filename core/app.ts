// How building blocks reach the app (pub/sub delivery, bindings, actors...). The proxy's app
// channel implements it; core never sees the transport.
import type { Readable } from 'node:stream';

export interface AppCallRequest {
  method: string;
  /** Path with query, starting with '/'. */
  path: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer | Readable | null;
  /** Milliseconds before giving up on the response headers. */
  headersTimeout?: number;
  signal?: AbortSignal;
}

export interface AppCallBody extends Readable {
  text(): Promise<string>;
  json(): Promise<unknown>;
  arrayBuffer(): Promise<ArrayBuffer>;
  dump(): Promise<void>;
}

export interface AppCallResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: AppCallBody;
}

/** An answer read whole, for callers that only judge a small answer (pub/sub delivery). */
export interface AppTextResponse {
  statusCode: number;
  text: string;
}

export interface AppCaller {
  readonly isReady: boolean;
  readonly isHealthy: boolean;
  onReady(fn: () => void): void;
  call(req: AppCallRequest): Promise<AppCallResponse>;
  /** `call`, with the answer read whole as text (no body stream); `headersTimeout` is not applied. */
  callText(req: AppCallRequest): Promise<AppTextResponse>;
}

/** A peer sidecar's internal listener. */
export interface PeerTarget {
  appId: string;
  namespace: string;
  host: string;
  port: number;
}

/** Calls to other sidecars' internal listeners (the invocation pools, mTLS and tracing). */
export interface PeerClient {
  /** This sidecar's internal address, as peers reach it. */
  readonly self: { host: string; port: number };
  request(peer: PeerTarget, req: AppCallRequest): Promise<AppCallResponse>;
}
