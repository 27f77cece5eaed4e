// One call at a time per actor, in arrival order. With reentrancy, a call carrying the
// reentrancy id of the chain that holds the lock enters at once (up to maxStackDepth deep);
// without it, a nested call back into the same actor queues like any other and waits.
import { DaprError } from '../errors.js';

interface Waiter {
  chain: string;
  resolve: () => void;
}

let anonymous = 0;

export class TurnLock {
  private holder: string | undefined = undefined;
  private depth = 0;
  private readonly queue: Waiter[] = [];
  private idleWaiters: Array<() => void> = [];

  /** Calls holding or waiting for the lock. */
  get pending(): number {
    return (this.holder === undefined ? 0 : 1) + this.queue.length;
  }

  get isIdle(): boolean {
    return this.holder === undefined && this.queue.length === 0;
  }

  /**
   * Resolves when the call may run; call the returned function exactly once when it is done.
   * `chain` is the reentrancy id (undefined: the call is its own chain).
   */
  async acquire(chain: string | undefined, maxStackDepth: number): Promise<() => void> {
    const id = chain ?? `#${++anonymous}`;
    if (this.holder === undefined) {
      this.holder = id;
      this.depth = 1;
    } else if (chain !== undefined && this.holder === chain) {
      if (this.depth >= maxStackDepth) throw new DaprError('actorStackDepth', `maximum stack depth exceeded: ${maxStackDepth}`);
      this.depth++;
    } else {
      await new Promise<void>((resolve) => this.queue.push({ chain: id, resolve }));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release();
    };
  }

  private release(): void {
    if (--this.depth > 0) return;
    const next = this.queue.shift();
    if (next) {
      this.holder = next.chain;
      this.depth = 1;
      next.resolve();
      return;
    }
    this.holder = undefined;
    for (const fn of this.idleWaiters.splice(0)) fn();
  }

  /** Resolves when nothing holds or waits for the lock, or after `ms` (false then). */
  whenIdle(ms: number): Promise<boolean> {
    if (this.isIdle) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        resolve(true);
      };
      const t = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((f) => f !== done);
        resolve(false);
      }, ms);
      this.idleWaiters.push(done);
    });
  }
}
