// Kubernetes: every app's sidecars sit behind the `<app-id>-dapr` headless service, so the
// address is a DNS name (`<app-id>-dapr.<namespace>.svc.<clusterDomain>`) on the internal port
// (50002 by default, as Dapr's injector sets it). DNS does the balancing; undici resolves it.
// Configuration: `clusterDomain` (default cluster.local), `port`, and `template` with
// {{.ID}}, {{.Namespace}} and {{.Port}} for other layouts (as Dapr's resolver allows).
import { configValue, type NameResolver, type PeerAddress } from './resolver.js';

export class KubernetesResolver implements NameResolver {
  readonly name = 'kubernetes';
  private readonly clusterDomain: string;
  private readonly port: number;
  private readonly template: string | undefined;

  constructor(config: Readonly<Record<string, unknown>>) {
    this.clusterDomain = String(configValue(config, 'clusterDomain') ?? 'cluster.local');
    this.port = Number(configValue(config, 'port') ?? 50002);
    const t = configValue(config, 'template');
    this.template = typeof t === 'string' && t ? t : undefined;
  }

  async register(): Promise<void> {}

  async resolve(appId: string, namespace: string): Promise<PeerAddress[]> {
    if (this.template) {
      const text = this.template
        .replace(/\{\{\s*\.ID\s*\}\}/g, appId)
        .replace(/\{\{\s*\.(Namespace|Data\.namespace)\s*\}\}/g, namespace)
        .replace(/\{\{\s*\.Port\s*\}\}/g, String(this.port));
      const colon = text.lastIndexOf(':');
      return colon > 0 ? [{ host: text.slice(0, colon), port: Number(text.slice(colon + 1)) }] : [{ host: text, port: this.port }];
    }
    return [{ host: `${appId}-dapr.${namespace}.svc.${this.clusterDomain}`, port: this.port }];
  }

  async close(): Promise<void> {}
}
