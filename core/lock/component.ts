// What the distributed lock block needs from a lock store. Keys arrive already prefixed by the
// block (`lock||<appId>||<resourceId>` by default).
import type { Component } from '../component.js';

/** Dapr's numeric unlock statuses. */
export const UnlockStatus = {
  success: 0,
  lockDoesNotExist: 1,
  lockBelongsToOthers: 2,
  internalError: 3,
} as const;

export type UnlockStatusCode = (typeof UnlockStatus)[keyof typeof UnlockStatus];

export interface LockStore extends Component {
  /** Takes the lock when nobody holds it (or the holder's lease expired); never two owners. */
  tryLock(key: string, owner: string, expirySeconds: number): Promise<boolean>;
  /** Releases the lock only for its owner. */
  unlock(key: string, owner: string): Promise<UnlockStatusCode>;
}
