// What the state building block needs from a store. Keys arrive already prefixed by the block
// (`<appId>||<key>` by default); values arrive serialized: a string is JSON text, bytes are a
// binary value (gRPC callers), which SQL stores keep base64-encoded with an `is binary` flag.
// A store declares its features; the block refuses what a store does not declare.
import type { Component } from '../component.js';

/** Feature names as Dapr reports them in metadata `capabilities`. */
export const StateFeature = {
  etag: 'ETAG',
  transactional: 'TRANSACTIONAL',
  ttl: 'TTL',
  query: 'QUERY_API',
  /** Added by the runtime for the store that holds actor state; never declared by a store. */
  actor: 'ACTOR',
} as const;

export type Concurrency = 'first-write' | 'last-write';
export type Consistency = 'strong' | 'eventual';

export interface StateOptions {
  concurrency?: Concurrency | undefined;
  consistency?: Consistency | undefined;
}

/** A serialized value: JSON text, or the bytes of a binary value. */
export type StateValue = string | Uint8Array;

export interface GetRequest {
  key: string;
  metadata: Readonly<Record<string, string>>;
  consistency?: Consistency | undefined;
}

export interface GetResponse {
  /** As stored: JSON text, or bytes for a binary value. */
  data: StateValue;
  etag?: string | undefined;
  /** Response metadata, e.g. `ttlExpireTime` (RFC 3339, UTC). */
  metadata?: Record<string, string> | undefined;
}

export interface BulkGetItem {
  key: string;
  data?: StateValue | undefined;
  etag?: string | undefined;
  metadata?: Record<string, string> | undefined;
  error?: string | undefined;
}

export interface SetRequest {
  key: string;
  value: StateValue;
  /** Present (even empty) when the caller sent one; empty counts as "no ETag" as in Dapr. */
  etag?: string | undefined;
  metadata: Readonly<Record<string, string>>;
  options: StateOptions;
}

export interface DeleteRequest {
  key: string;
  etag?: string | undefined;
  metadata: Readonly<Record<string, string>>;
  options: StateOptions;
}

export type TransactionOperation =
  | { operation: 'upsert'; request: SetRequest }
  | { operation: 'delete'; request: DeleteRequest };

export interface StateStore extends Component {
  readonly features: readonly string[];
  /** Undefined when the key does not exist (or has expired). */
  get(req: GetRequest): Promise<GetResponse | undefined>;
  /** One entry per request, in order; missing keys carry only `key`. Absent: the block fans out. */
  bulkGet?(reqs: readonly GetRequest[]): Promise<BulkGetItem[]>;
  /** Throws ETagError on a mismatch or a malformed ETag. */
  set(req: SetRequest): Promise<void>;
  delete(req: DeleteRequest): Promise<void>;
  /** All or nothing. Required when the store declares TRANSACTIONAL. */
  multi?(ops: readonly TransactionOperation[], metadata: Readonly<Record<string, string>>): Promise<void>;
  /** Most operations one transaction may hold (0 or absent: no limit). */
  readonly multiMaxSize?: number;
  /** Required when the store declares QUERY_API. */
  query?(q: StateQuery, metadata: Readonly<Record<string, string>>): Promise<QueryResponse>;
}

/** Thrown by stores: `mismatch` becomes 409 on save/delete, `invalid` 400. */
export class ETagError extends Error {
  override readonly name = 'ETagError';
  constructor(
    readonly kind: 'mismatch' | 'invalid',
    detail?: string,
  ) {
    super(
      kind === 'mismatch'
        ? `possible etag mismatch. error from state store${detail ? `: ${detail}` : ''}`
        : `invalid etag value${detail ? `: ${detail}` : ''}`,
    );
  }
}

export function hasETag(etag: string | undefined): etag is string {
  return etag !== undefined && etag !== '';
}

/**
 * The request's `ttlInSeconds`: undefined when absent or empty; throws on a non-integer (Dapr
 * answers ERR_STATE_SAVE). Zero or negative means "never expires".
 */
export function parseTTL(metadata: Readonly<Record<string, string>>): number | undefined {
  const s = metadata.ttlInSeconds;
  if (s === undefined || s === '') return undefined;
  if (!/^[+-]?\d+$/.test(s.trim())) throw new Error(`error parsing TTL: invalid ttlInSeconds value "${s}"`);
  return Number(s.trim());
}

/** RFC 3339 in UTC without fractions, as Go prints time.RFC3339 for UTC times. */
export function formatExpireTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

// ----- Query (v1.0-alpha1), parsed by the block and handed to the store as a tree -----

export type QueryFilter =
  | { op: 'EQ' | 'NEQ' | 'GT' | 'GTE' | 'LT' | 'LTE'; key: string; value: unknown }
  | { op: 'IN'; key: string; values: unknown[] }
  | { op: 'AND' | 'OR'; filters: QueryFilter[] };

export interface StateQuery {
  filter?: QueryFilter | undefined;
  sort: Array<{ key: string; order: 'ASC' | 'DESC' | '' }>;
  page: { limit: number; token?: string | undefined };
}

export interface QueryResultItem {
  key: string;
  data: StateValue;
  etag?: string | undefined;
  error?: string | undefined;
}

export interface QueryResponse {
  results: QueryResultItem[];
  token?: string | undefined;
  metadata?: Record<string, string> | undefined;
}
