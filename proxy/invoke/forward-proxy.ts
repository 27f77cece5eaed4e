// Forward-proxy rules for hosts that are neither app ids nor HTTPEndpoints. By default such
// requests pass through unchanged (the sidecar acts as a plain HTTP proxy and CONNECT tunnel).
// Configuration can refuse them:
//
//   spec:
//     proxy:
//       passthrough: deny            # allow (default) | deny
//       allowedHosts: [api.example.com, "*.internal.example"]   # still allowed under deny
//       deniedHosts: ["*.example.org"]                          # refused even under allow
import type { Configuration } from '../../resources/configuration.js';

export class ForwardProxyRules {
  private readonly denyByDefault: boolean;
  private readonly allowed: RegExp[];
  private readonly denied: RegExp[];

  constructor(section: Readonly<Record<string, unknown>>) {
    this.denyByDefault = String(section.passthrough ?? 'allow').toLowerCase() === 'deny';
    this.allowed = patterns(section.allowedHosts);
    this.denied = patterns(section.deniedHosts);
  }

  static from(cfg: Configuration): ForwardProxyRules {
    return new ForwardProxyRules(cfg.proxy);
  }

  allows(host: string): boolean {
    const h = host.toLowerCase();
    if (this.denied.some((re) => re.test(h))) return false;
    if (!this.denyByDefault) return true;
    return this.allowed.some((re) => re.test(h));
  }
}

function patterns(v: unknown): RegExp[] {
  if (!Array.isArray(v)) return [];
  return v.map((p) => new RegExp('^' + String(p).toLowerCase().replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^.]+') + '$'));
}
