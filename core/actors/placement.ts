// What the actors block needs from placement (proxy/placement/ implements it): who hosts an
// actor, and a way to reach that host's sidecar. Placement is a shared membership table of
// live hosts and the types each serves; the owner of (type, id) is computed from it.

export interface ActorPeer {
  /** A stable id of the host (its internal address). */
  id: string;
  appId: string;
  namespace: string;
  host: string;
  port: number;
}

export interface ActorPlacement {
  /** Joins the table with the actor types this app hosts (none: reads the table only); `host('actors', types)`. */
  start(types: readonly string[]): Promise<void>;
  /**
   * Sets the types one part of the runtime hosts ('actors', 'workflow'): the row lists the union
   * of all parts, and the sidecar withdraws when no part hosts anything.
   */
  host(part: string, types: readonly string[]): Promise<void>;
  /** The owner of (type, id): 'local', a peer, or undefined when no live host serves the type. */
  lookup(type: string, id: string): ActorPeer | 'local' | undefined;
  /** Starts following the table (a caller that hosts nothing does so on its first call). */
  watch(): Promise<void>;
  /** Re-reads the table now (after a peer said the actor moved, or did not answer). */
  refresh(): Promise<void>;
  /** Called after the table changed (hosts joined or left). */
  onChange(fn: () => void): void;
  /** How long a caller should keep waiting for a host to appear or a dead one to drop out. */
  readonly settleMs: number;
  /** How long after a table change a new owner waits before loading state the old owner may still write. */
  readonly handoverMs: number;
  /** Bumps when the table changes. */
  readonly version: number;
  readonly connected: boolean;
  /** Leaves the table. */
  close(): Promise<void>;
}

export type PlacementFactory = (self: { host: string; port: number }) => ActorPlacement;

/** Internal path prefix for actor calls between sidecars. */
export const INTERNAL_PREFIX = '/_bulwark/actors';
/** Set by a host that is not (or no longer) the owner of the actor it was asked to run. */
export const MOVED_HEADER = 'bulwark-actor-moved';
