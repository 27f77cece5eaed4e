// The configuration block: get, subscribe and unsubscribe under the component outbound policy,
// and each update pushed to the app as one POST /configuration/{store}/{key} per changed key,
// under the component inbound policy, with Dapr's body {"id", "items"}.
import type { AppCaller } from '../app.js';
import type { Logger } from '../component.js';
import { DaprError } from '../errors.js';
import type { PolicyProvider } from '../policy.js';
import { timedComponentCall, type Telemetry } from '../telemetry.js';
import type { ConfigurationItems, ConfigurationStore, ConfigurationUpdate, ConfigurationUpdateHandler } from './component.js';

export class ConfigurationService {
  constructor(
    private readonly stores: ReadonlyMap<string, ConfigurationStore>,
    private readonly app: AppCaller | undefined,
    private readonly policies: PolicyProvider,
    private readonly telemetry: Telemetry,
    private readonly logger: Logger,
  ) {}

  private store(name: string): ConfigurationStore {
    if (this.stores.size === 0) throw new DaprError('configurationStoreNotConfigured', 'configuration stores not configured');
    const s = this.stores.get(name);
    if (!s) throw new DaprError('configurationStoreNotFound', `configuration store ${name} not found`);
    return s;
  }

  async get(name: string, keys: string[], metadata: Record<string, string>): Promise<ConfigurationItems> {
    const store = this.store(name);
    try {
      return await timedComponentCall(this.telemetry, 'configuration', name, 'get', () =>
        this.policies.componentOutbound(name).run(() => store.get(keys, metadata)),
      );
    } catch (err) {
      throw new DaprError('configurationGet', `failed to get ${goList(keys)} from Configuration store ${name}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Watches `keys`; each update goes to `deliver` (the gRPC API's stream) or, without it, to the
   * app as POST /configuration/{store}/{key} (the HTTP API's subscriptions).
   */
  async subscribe(name: string, keys: string[], metadata: Record<string, string>, deliver?: ConfigurationUpdateHandler): Promise<string> {
    const store = this.store(name);
    if (!deliver && !this.app) throw new DaprError('appChannelNil', 'app channel is not initialized. cannot subscribe to configuration updates');
    const handler: ConfigurationUpdateHandler = deliver ?? ((id, items) => this.push(name, id, items));
    try {
      return await timedComponentCall(this.telemetry, 'configuration', name, 'configuration_subscribe', () =>
        this.policies.componentOutbound(name).run(() => store.subscribe(keys, metadata, handler)),
      );
    } catch (err) {
      throw new DaprError('configurationSubscribe', `failed to subscribe ${goList(keys)} from Configuration store ${name}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Resolves with an error message instead of throwing: Dapr answers unsubscribe failures with its own body. */
  async unsubscribe(name: string, id: string): Promise<string | undefined> {
    const store = this.store(name);
    try {
      await timedComponentCall(this.telemetry, 'configuration', name, 'configuration_unsubscribe', () =>
        this.policies.componentOutbound(name).run(() => store.unsubscribe(id)),
      );
      return undefined;
    } catch (err) {
      return `failed to unsubscribe to configuration request ${id}: ${(err as Error).message}`;
    }
  }

  private async push(store: string, id: string, items: ConfigurationUpdate): Promise<void> {
    const app = this.app;
    if (!app) return;
    const body = JSON.stringify({ id, items: wireItems(items) });
    for (const key of Object.keys(items)) {
      try {
        const status = await this.policies.componentInbound(store).run(
          async (signal) => {
            const res = await app.call({
              method: 'POST',
              path: `/configuration/${encodeURIComponent(store)}/${encodeURIComponent(key)}`,
              headers: { 'content-type': 'application/json' },
              body,
              ...(signal ? { signal } : {}),
            });
            await res.body.dump();
            return res.statusCode;
          },
          { failureStatus: (s) => (s === 200 ? undefined : s) },
        );
        if (status !== 200) this.logger.error(`error sending configuration item to the app: error sending configuration item to application, status ${status}`);
      } catch (err) {
        this.logger.error(`error sending configuration item to the app: ${(err as Error).message}`);
      }
    }
  }
}

/** Items as Dapr writes them: version and metadata left out when empty. */
export function wireItems(items: ConfigurationUpdate): Record<string, Record<string, unknown> | null> {
  const out: Record<string, Record<string, unknown> | null> = {};
  for (const [k, it] of Object.entries(items)) {
    if (!it) {
      out[k] = null;
      continue;
    }
    const w: Record<string, unknown> = { value: it.value };
    if (it.version) w.version = it.version;
    if (it.metadata && Object.keys(it.metadata).length > 0) w.metadata = it.metadata;
    out[k] = w;
  }
  return out;
}

/** A string slice as Go's %s prints it: "[a b]". */
function goList(keys: readonly string[]): string {
  return `[${keys.join(' ')}]`;
}
