// The slots where resiliency policies wrap calls. Blocks ask for the policy of their target and
// run each call through it; with no Resiliency resources every slot is a pass-through.
// policies/ fills the slots from Resiliency resources (timeout, retry, circuit breaker).

/** How a caller tells the policy what an outcome means; every field is optional. */
export interface RunOptions<T> {
  /**
   * A resolved result that is still a failure (an app's non-2xx answer): return its status code
   * (HTTP 100-599 or gRPC 0-16) to count it as a breaker failure and retry it when the retry
   * policy's `matching` allows; undefined means success. When retries end, the last such result
   * is returned, not thrown, so the caller can relay it as-is.
   */
  failureStatus?(result: T): number | undefined;
  /**
   * The status code a thrown error carries (a pub/sub delivery the app answered with 500), so the
   * retry policy's `matching` can decide; undefined (or no function) = retried whatever `matching` says.
   */
  errorStatus?(err: unknown): number | undefined;
  /** A failure no policy may repeat, whatever its matching (Dapr's permanent errors). */
  isPermanent?(err: unknown): boolean;
  /** Releases a result the policy drops (a retried answer, or one that arrived after a timeout). */
  discard?(result: T): void;
  /** The operation cannot be replayed (a streamed body): one attempt, still under timeout and breaker. */
  once?: boolean;
  /** The caller went away: stops waiting between retries and aborts the attempt. */
  signal?: AbortSignal;
  /**
   * The caller's connection (a ServerResponse): a 'close' while the policy runs means the caller
   * went away, with the effect of `signal`. Cheaper than a signal of its own per call: the policy
   * listens only while it runs and aborts an attempt only when the caller really leaves.
   */
  caller?: CallerConnection;
  /**
   * The operation hands its signal only to undici's request() (or anything else that uses it
   * through addEventListener/removeEventListener): the policy may then pass a lightweight
   * signal with AbortSignal's interface that costs nothing unless it fires. Not for fetch() or
   * AbortSignal.any(), which accept only native signals.
   */
  lightSignal?: boolean;
}

/** What the policy needs of the caller's connection (node's ServerResponse fits). */
export interface CallerConnection {
  on(event: 'close', listener: () => void): unknown;
  removeListener(event: 'close', listener: () => void): unknown;
}

export interface CallPolicy {
  /**
   * Runs `op` under the policy (timeout, retry, circuit breaker); `signal` aborts an attempt.
   * A fired timeout rejects with a PolicyError "context deadline exceeded", an open breaker with
   * "circuit breaker is open" (or "too many requests" when half-open): callers wrap the message
   * in their usual Dapr error, as Dapr does.
   */
  run<T>(op: (signal: AbortSignal | undefined) => Promise<T>, options?: RunOptions<T>): Promise<T>;
  /** Whether a failed attempt may be repeated (a caller buffers a small body to replay it only then). */
  canRetry?(): boolean;
}

export interface PolicyProvider {
  /** Calls from the sidecar to a component (state, publish, secrets, bindings...). */
  componentOutbound(component: string): CallPolicy;
  /** Deliveries from a component to the app (pub/sub messages, input bindings). */
  componentInbound(component: string): CallPolicy;
  /**
   * Service invocation of a target as the caller wrote it (app id, `id.namespace`, HTTPEndpoint
   * name or URL). `method` selects the breaker: Dapr keeps one per target and method.
   */
  app(appId: string, method?: string): CallPolicy;
  /**
   * Actor calls of one type (and id, where the breaker scope asks for it), on the caller's
   * sidecar before the actor's turn lock: retry and circuit breaker. Time spent queued for the
   * turn is not limited (Dapr's pre-lock policy).
   */
  actor(actorType: string, actorId?: string): CallPolicy;
  /**
   * The actor's timeout, on the owner's sidecar once the call holds the actor's turn: it limits
   * the app call only (Dapr's post-lock policy).
   */
  actorTurn(actorType: string, actorId?: string): CallPolicy;
  /**
   * Dapr's built-in retries of a call to another app's sidecar (DaprBuiltInServiceRetries:
   * constant 1 s, 3 retries, redefinable by name with at least 3): on only while no
   * `targets.apps.<appId>` entry names the app, undefined when off. They repeat only what the
   * caller says is a failure of the connection; run without resiliency metrics, inside the app
   * policy's attempt.
   */
  builtInServiceRetries?(appId: string): CallPolicy | undefined;
}

/** Why a policy stopped a call; `reason` tells a fired timeout from an open breaker. */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  constructor(readonly reason: 'timeout' | 'breakerOpen' | 'breakerTooManyRequests', message: string) {
    super(message);
  }
}

export const passThrough: CallPolicy = {
  run: (op) => op(undefined),
};

export const noPolicies: PolicyProvider = {
  componentOutbound: () => passThrough,
  componentInbound: () => passThrough,
  app: () => passThrough,
  actor: () => passThrough,
  actorTurn: () => passThrough,
};
