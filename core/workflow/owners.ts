// Which sidecar runs a workflow instance. As Dapr runs workflows on the internal actor type
// `dapr.internal.<ns>.<appId>.workflow`, a sidecar joins the actors block's placement with that
// type while a worker of its app is connected, and the owner of an instance is the placement
// owner of (type, instance id). Every operation on an instance runs on its owner: a sidecar that
// is not the owner forwards it over the internal (sidecar-to-sidecar) port. While no sidecar of
// the app has a worker, the sidecar that is asked keeps the instance.
import type { PeerClient } from '../app.js';
import type { ActorPeer, ActorPlacement } from '../actors/placement.js';
import { isConnectFailure } from '../actors/service.js';
import type { Logger } from '../component.js';
import { WorkflowError } from './engine-errors.js';

/** Internal path prefix of the workflow operations peers forward to an owner. */
export const WORKFLOW_INTERNAL_PREFIX = '/_bulwark/workflow';
/** Set on a 421 by a sidecar that does not own the instance it was asked about. */
export const WORKFLOW_MOVED_HEADER = 'bulwark-workflow-moved';

export class WorkflowOwners {
  private placement: ActorPlacement | undefined;
  private peers: PeerClient | undefined;
  private hosting = false;
  private wanted = false;
  /** Instances that became ours are loaded from the store only after this (ms): the old owner lets go first. */
  private adoptAfter = 0;

  constructor(
    readonly actorType: string,
    private readonly logger: Logger,
  ) {}

  /** Starts following placement; `onMove` runs after every change of the table. */
  async attach(placement: ActorPlacement, peers: PeerClient, onMove: () => void): Promise<void> {
    this.placement = placement;
    this.peers = peers;
    placement.onChange(() => {
      this.adoptAfter = Date.now() + placement.handoverMs;
      onMove();
    });
    await placement.watch();
    // Workers that connected before placement was there.
    if (this.wanted) this.apply();
  }

  /** How long to wait before loading an instance that just became ours. */
  get adoptDelayMs(): number {
    return Math.max(0, this.adoptAfter - Date.now());
  }

  /** Joins placement with the workflow type while workers are connected; leaves when the last one goes. */
  setHosting(on: boolean): void {
    this.wanted = on;
    this.apply();
  }

  private apply(): void {
    const on = this.wanted;
    if (on === this.hosting || !this.placement) return;
    this.hosting = on;
    if (on) this.adoptAfter = Date.now() + this.placement.handoverMs;
    this.placement.host('workflow', on ? [this.actorType] : []).catch((err: Error) => this.logger.warn(`workflow: placement: ${err.message}`));
  }

  /** 'local', a peer, or 'none' when no sidecar of the app hosts workflows now. */
  ownerOf(id: string): ActorPeer | 'local' | 'none' {
    if (!this.placement) return 'none';
    return this.placement.lookup(this.actorType, id) ?? 'none';
  }

  /** True when this sidecar runs the instance (it is the owner, or nobody hosts workflows). */
  isLocal(id: string): boolean {
    const o = this.ownerOf(id);
    return o === 'local' || o === 'none';
  }

  /**
   * Runs `op` on the owner of `id`: `local()` here, or the internal route on the owner's sidecar.
   * A peer that is gone or says the instance moved is retried (after re-reading placement)
   * until placement has had time to settle.
   */
  async run<T>(id: string, op: string, args: object, local: () => Promise<T>): Promise<T> {
    const placement = this.placement;
    if (!placement || !this.peers) return local();
    const deadline = Date.now() + placement.settleMs;
    for (;;) {
      const owner = this.ownerOf(id);
      if (owner === 'local' || owner === 'none') return local();
      let why: string;
      try {
        const res = await this.peers.request(owner, {
          method: 'POST',
          path: `${WORKFLOW_INTERNAL_PREFIX}/${op}`,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(args),
        });
        const text = await res.body.text();
        if (res.statusCode === 200) return (text ? JSON.parse(text) : undefined) as T;
        if (res.statusCode === 409) {
          const e = JSON.parse(text) as { reason: WorkflowError['reason']; message: string };
          throw new WorkflowError(e.reason, e.message);
        }
        if (!(res.statusCode === 421 && res.headers[WORKFLOW_MOVED_HEADER])) throw new Error(`workflow ${op} on ${owner.id}: ${res.statusCode} ${text}`);
        why = `instance ${id} moved from ${owner.id}`;
      } catch (err) {
        if (!isConnectFailure(err)) throw err;
        why = `owner ${owner.id} of instance ${id} is unreachable: ${(err as Error).message}`;
      }
      if (Date.now() > deadline) throw new Error(`workflow ${op}: ${why}`);
      this.logger.debug(`workflow: ${why}; retrying`);
      await placement.refresh();
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
