// secretstores.local.env: the sidecar's environment, optionally under a prefix. APP_API_TOKEN
// and DAPR_* names are never returned; a missing variable is an empty value, as in Dapr.
import { meta, type ComponentContext } from '../../core/component.js';
import type { SecretStore } from '../../core/secrets/component.js';

const isHidden = (name: string): boolean => {
  const upper = name.toUpperCase();
  return upper === 'APP_API_TOKEN' || upper.startsWith('DAPR_');
};

export async function createLocalEnvSecretStore(ctx: ComponentContext): Promise<SecretStore> {
  const prefix = meta(ctx.metadata, 'prefix') ?? '';
  const env = ctx.env;
  return {
    async getSecret(name) {
      const full = prefix + name;
      return { [name]: isHidden(full) ? '' : env[full] ?? '' };
    },
    async bulkGetSecret() {
      const out: Record<string, Record<string, string>> = {};
      for (const [k, v] of Object.entries(env)) {
        if (v === undefined || isHidden(k) || !k.startsWith(prefix)) continue;
        const name = k.slice(prefix.length);
        if (name) out[name] = { [name]: v };
      }
      return out;
    },
  };
}
