// A building block as the composition root sees it: what it needs at start-up and what it
// gives back (routes, metadata, lifecycle). proxy/blocks.ts lists them, one line each.
import type { Configuration } from '../resources/configuration.js';
import type { ResourceSet } from '../resources/types.js';
import type { PlacementFactory } from './actors/placement.js';
import type { AppCaller, PeerClient } from './app.js';
import type { Category, Component, Logger } from './component.js';
import type { GrpcMethods } from './grpc.js';
import type { Route } from './http.js';
import type { PolicyProvider } from './policy.js';
import type { Telemetry } from './telemetry.js';

export interface LoadedComponent {
  name: string;
  type: string;
  version: string;
  category: Category;
  instance: Component;
  /** Resolved metadata, for runtime-level keys (keyPrefix, consumerID, actorStateStore...). */
  metadata: Readonly<Record<string, string>>;
}

export interface ComponentSet {
  all(): readonly LoadedComponent[];
  /** Components of one category by name. */
  of<T extends Component>(category: Category): ReadonlyMap<string, T>;
  loaded(category: Category): ReadonlyMap<string, LoadedComponent>;
}

export interface BlockContext {
  appId: string;
  namespace?: string;
  homeDir: string;
  configuration: Configuration;
  resources: ResourceSet;
  components: ComponentSet;
  policies: PolicyProvider;
  /** Child spans and component metrics; `noTelemetry` when tracing and metrics are off. */
  telemetry: Telemetry;
  logger: Logger;
  /** Undefined when the sidecar runs without an app port. */
  app: AppCaller | undefined;
  /** The sidecar's one placement (actors and workflows share its membership row). */
  placement: PlacementFactory;
}

export interface Block {
  readonly name: string;
  routes: Route[];
  /** Adds this block's fields to GET /v1.0/metadata. */
  metadata?(out: Record<string, unknown>): void;
  /**
   * The rpcs this block serves on the Dapr gRPC port, by full service name, then method name
   * (several blocks serve parts of `dapr.proto.runtime.v1.Dapr`).
   */
  grpcServices?: Record<string, GrpcMethods>;
  /** Routes served on the internal (sidecar-to-sidecar) listener, before delivery to the app. */
  internalRoutes?: Route[];
  /** Called once the internal listener is bound, with the way to reach peer sidecars. */
  onPeersReady?(peers: PeerClient): void;
  /** Called once the app is reachable (subscriptions, input bindings, actor config). */
  onAppReady?(): Promise<void>;
  close?(): Promise<void>;
}

export type BlockFactory = (ctx: BlockContext) => Block | Promise<Block>;
