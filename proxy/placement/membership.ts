// The membership table behind actor placement: which sidecars are alive and which actor types
// each hosts. A store keeps the rows (files under BULWARK_HOME on one machine; Redis or
// PostgreSQL with leases for several); the store does the agreeing, no consensus of our own.
export interface Member {
  /** `host:port` of the sidecar's internal listener: unique per live sidecar. */
  id: string;
  appId: string;
  namespace: string;
  host: string;
  port: number;
  types: string[];
}

export interface MembershipStore {
  readonly name: string;
  /** How long a crashed host can stay listed (its lease); 0 when death is seen at once. */
  readonly leaseMs: number;
  /** How often the table is re-read. */
  readonly refreshMs: number;
  /** Adds or renews this host's row. */
  announce(self: Member): Promise<void>;
  /** Live rows and the table's version (bumped by every join and leave). */
  list(): Promise<{ members: Member[]; version: number }>;
  /** Removes this host's row. */
  withdraw(self: Member): Promise<void>;
  close(): Promise<void>;
}
