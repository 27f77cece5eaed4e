// The self-hosted default: peers come from the local registry under BULWARK_HOME (one JSON
// entry per running sidecar, written by the sidecar itself). Entries of dead processes are
// ignored; a short cache keeps directory reads off the hot path, and an address that refused
// a connection is skipped until the registry is read again.
import { readEntries } from './local-registry.js';
import type { NameResolver, PeerAddress, ResolverContext } from './resolver.js';

const CACHE_MS = 1000;
const MISS_REFRESH_MS = 100;

interface Cached {
  at: number;
  /** `${appId}.${namespace}` -> addresses. */
  byApp: Map<string, PeerAddress[]>;
}

export class LocalRegistryResolver implements NameResolver {
  readonly name = 'local';
  private cache: Cached | undefined;

  constructor(private readonly ctx: ResolverContext) {}

  async register(): Promise<void> {}

  private load(maxAgeMs: number): Map<string, PeerAddress[]> {
    const now = Date.now();
    if (this.cache && now - this.cache.at < maxAgeMs) return this.cache.byApp;
    const byApp = new Map<string, PeerAddress[]>();
    for (const e of readEntries(this.ctx.homeDir)) {
      if (!e.internalPort) continue;
      const key = `${e.appId}.${e.namespace ?? 'default'}`;
      let list = byApp.get(key);
      if (!list) byApp.set(key, (list = []));
      list.push({ host: e.host, port: e.internalPort });
    }
    this.cache = { at: now, byApp };
    return byApp;
  }

  async resolve(appId: string, namespace: string): Promise<PeerAddress[]> {
    const key = `${appId}.${namespace}`;
    const found = this.load(CACHE_MS).get(key);
    if (found && found.length > 0) return found;
    // Not known (yet): a sidecar that just started should not wait for the cache to expire.
    return this.load(MISS_REFRESH_MS).get(key) ?? [];
  }

  markDown(appId: string, namespace: string, address: PeerAddress): void {
    const list = this.cache?.byApp.get(`${appId}.${namespace}`);
    if (!list) return;
    const i = list.findIndex((a) => a.host === address.host && a.port === address.port);
    if (i >= 0) list.splice(i, 1);
  }

  async close(): Promise<void> {}
}
