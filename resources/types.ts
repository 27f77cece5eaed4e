// The decoded shapes of Dapr resources. Field names follow Dapr's YAML.

export interface Origin {
  file: string;
  /** 1-based document position in the file. */
  doc: number;
}

export interface SecretKeyRef {
  name: string;
  key: string;
}

/** One `{name, value | secretKeyRef | envRef}` item, before resolution. */
export interface MetadataItem {
  name: string;
  /** The value as Dapr stringifies it (JSON scalars to text, objects to compact JSON). */
  value?: string;
  secretKeyRef?: SecretKeyRef;
  envRef?: string;
}

export interface ComponentResource {
  kind: 'Component';
  name: string;
  namespace?: string;
  type: string;
  version: string;
  initTimeoutMs: number;
  ignoreErrors: boolean;
  metadata: MetadataItem[];
  secretStore?: string;
  scopes: string[];
  origin: Origin;
}

export interface TlsValue {
  value?: string;
  secretKeyRef?: SecretKeyRef;
}

export interface HttpEndpointResource {
  kind: 'HTTPEndpoint';
  name: string;
  namespace?: string;
  baseUrl: string;
  headers: MetadataItem[];
  clientTLS?: { rootCA?: TlsValue; certificate?: TlsValue; privateKey?: TlsValue; renegotiation?: string };
  secretStore?: string;
  scopes: string[];
  origin: Origin;
}

export interface RouteRule {
  match: string;
  path: string;
}

export interface SubscriptionResource {
  kind: 'Subscription';
  apiVersion: string;
  name: string;
  pubsubname: string;
  topic: string;
  /** Rules in order; `defaultPath` is used when no rule matches (v1alpha1 `route` lands here). */
  rules: RouteRule[];
  defaultPath?: string;
  metadata: Record<string, string>;
  deadLetterTopic?: string;
  bulkSubscribe?: { enabled: boolean; maxMessagesCount?: number; maxAwaitDurationMs?: number };
  scopes: string[];
  origin: Origin;
}

export interface ResiliencyResource {
  kind: 'Resiliency';
  name: string;
  /** `spec` as written; policies/ decodes and validates it (field names case-insensitive). */
  spec: Record<string, unknown>;
  scopes: string[];
  origin: Origin;
}

export type Resource = ComponentResource | HttpEndpointResource | SubscriptionResource | ResiliencyResource;

export interface ResourceSet {
  components: ComponentResource[];
  httpEndpoints: HttpEndpointResource[];
  subscriptions: SubscriptionResource[];
  resiliencies: ResiliencyResource[];
  /** Non-fatal notes for the log (skipped files, ignored kinds). */
  warnings: string[];
}
