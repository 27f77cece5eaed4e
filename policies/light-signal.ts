// An abort signal that costs nothing until it fires. A native AbortSignal is an EventTarget
// with internal maps and brand checks: making one per attempt was the largest part of a
// policy's cost per call (measured with loadtest/policy.ts). This class has AbortSignal's
// interface (aborted, reason, onabort, throwIfAborted and the EventTarget methods) over one
// listener slot, which is what undici's request() uses. It is not a native AbortSignal:
// `AbortSignal.any()` and fetch() refuse it, so the runner hands it out only to operations that
// asked for it (RunOptions.lightSignal).

type Listener = EventListenerOrEventListenerObject;

export class LightSignal implements AbortSignal {
  aborted = false;
  reason: unknown = undefined;
  onabort: ((this: AbortSignal, ev: Event) => unknown) | null = null;
  private first: Listener | null = null;
  private firstOnce = false;
  private more: Array<{ fn: Listener; once: boolean }> | null = null;

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  addEventListener(type: string, fn: Listener | null, options?: AddEventListenerOptions | boolean): void {
    if (type !== 'abort' || fn === null || this.has(fn)) return;
    const once = typeof options === 'object' && options.once === true;
    if (this.first === null) {
      this.first = fn;
      this.firstOnce = once;
    } else {
      (this.more ??= []).push({ fn, once });
    }
  }

  removeEventListener(type: string, fn: Listener | null): void {
    if (type !== 'abort' || fn === null) return;
    if (this.first === fn) {
      this.first = null;
      return;
    }
    const more = this.more;
    if (more === null) return;
    const i = more.findIndex((l) => l.fn === fn);
    if (i >= 0) more.splice(i, 1);
  }

  dispatchEvent(event: Event): boolean {
    if (event.type !== 'abort') return true;
    const first = this.first;
    if (first !== null) {
      if (this.firstOnce) this.first = null;
      call(first, this, event);
    }
    const more = this.more;
    if (more !== null) {
      for (const l of [...more]) {
        if (l.once) this.removeEventListener('abort', l.fn);
        call(l.fn, this, event);
      }
    }
    this.onabort?.call(this, event);
    return true;
  }

  /** Fires the signal once, as AbortController.abort() would. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.dispatchEvent(new Event('abort'));
  }

  private has(fn: Listener): boolean {
    return this.first === fn || (this.more !== null && this.more.some((l) => l.fn === fn));
  }
}

function call(fn: Listener, target: LightSignal, event: Event): void {
  // As an EventTarget does: a throwing listener must not stop the others (or the abort).
  try {
    if (typeof fn === 'function') fn.call(target, event);
    else fn.handleEvent(event);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}
