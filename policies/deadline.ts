// Per-attempt deadlines without a timer per attempt. Every attempt under one timeout duration
// expires in the order it started, so one queue per duration is a FIFO list: an attempt links
// itself at the tail (O(1)) and unlinks itself when it settles (O(1)); one timer per queue is
// armed for the head's deadline. The timer is not moved when the head leaves early: it fires,
// finds nothing due and re-arms for the new head, so a busy queue of fast calls costs about one
// timer per timeout period instead of one per call.

/** What a queue holds: the attempt itself carries the links (no wrapper object per call). */
export interface DeadlineEntry {
  due: number;
  prev: DeadlineEntry | null;
  next: DeadlineEntry | null;
  /** Whether the entry is linked in a queue. */
  queued: boolean;
  /** Called once when the deadline passes while the entry is still queued (already unlinked). */
  expire(): void;
}

export class DeadlineQueue {
  private head: DeadlineEntry | null = null;
  private tail: DeadlineEntry | null = null;
  private timer: NodeJS.Timeout | undefined = undefined;

  constructor(readonly ms: number) {}

  /** Starts `e`'s deadline now. */
  add(e: DeadlineEntry): void {
    e.due = Date.now() + this.ms;
    e.next = null;
    e.prev = this.tail;
    e.queued = true;
    if (this.tail) this.tail.next = e;
    else this.head = e;
    this.tail = e;
    if (this.timer === undefined) this.arm(this.ms);
  }

  /** Forgets `e` (it settled before its deadline); a no-op when it is not queued. */
  remove(e: DeadlineEntry): void {
    if (!e.queued) return;
    e.queued = false;
    if (e.prev) e.prev.next = e.next;
    else this.head = e.next;
    if (e.next) e.next.prev = e.prev;
    else this.tail = e.prev;
    e.prev = null;
    e.next = null;
  }

  /** Entries waiting (for tests and metrics). */
  get size(): number {
    let n = 0;
    for (let e = this.head; e; e = e.next) n++;
    return n;
  }

  private arm(delay: number): void {
    // Unreferenced: a queued deadline never keeps the process alive by itself (the call it
    // limits holds a socket or a timer of its own when it matters).
    this.timer = setTimeout(this.fire, delay);
    this.timer.unref();
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    const now = Date.now();
    let e = this.head;
    while (e !== null && e.due <= now) {
      this.remove(e);
      e.expire();
      e = this.head;
    }
    if (e !== null) this.arm(Math.max(1, e.due - now));
  };
}

const queues = new Map<number, DeadlineQueue>();

/** The shared queue for one timeout duration (a handful exist: one per distinct timeout policy value). */
export function deadlineQueue(ms: number): DeadlineQueue {
  let q = queues.get(ms);
  if (!q) {
    q = new DeadlineQueue(ms);
    queues.set(ms, q);
  }
  return q;
}
