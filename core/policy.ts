// The slots where resiliency policies wrap calls. Blocks ask for the policy of their target and
// run each call through it; with no Resiliency resources every slot is a pass-through.

export interface CallPolicy {
  /** Runs `op` under the policy (timeout, retry, circuit breaker); `signal` aborts an attempt. */
  run<T>(op: (signal: AbortSignal | undefined) => Promise<T>): Promise<T>;
}

export interface PolicyProvider {
  /** Calls from the sidecar to a component (state, publish, secrets, bindings...). */
  componentOutbound(component: string): CallPolicy;
  /** Deliveries from a component to the app (pub/sub messages, input bindings). */
  componentInbound(component: string): CallPolicy;
  /** Service invocation of an app id. */
  app(appId: string): CallPolicy;
  /** Actor calls of one type (and id, where the breaker scope asks for it). */
  actor(actorType: string, actorId?: string): CallPolicy;
}

export const passThrough: CallPolicy = {
  run: (op) => op(undefined),
};

export const noPolicies: PolicyProvider = {
  componentOutbound: () => passThrough,
  componentInbound: () => passThrough,
  app: () => passThrough,
  actor: () => passThrough,
};
