// The components `bulwark run` uses when there is no resources folder: everything embedded,
// nothing to install. They are kept as the documents the YAML reader would produce, so a
// sidecar on the defaults decodes them without loading a YAML parser (see
// resources/yaml-file.ts); `bulwark init` writes the same documents as YAML.
import { join } from 'node:path';
import { stringifyYaml } from '../resources/yaml-file.js';

/** The default Component documents by file name, as plain values (what reading their YAML gives). */
export function embeddedDefaults(homeDir: string): Record<string, unknown> {
  const component = (name: string, type: string, file: string, ...extra: Array<{ name: string; value: string }>): unknown => ({
    apiVersion: 'dapr.io/v1alpha1',
    kind: 'Component',
    metadata: { name },
    spec: { type, version: 'v1', metadata: [{ name: 'connectionString', value: join(homeDir, file) }, ...extra] },
  });
  return {
    'statestore.yaml': component('statestore', 'state.sqlite', 'state.db', { name: 'actorStateStore', value: 'true' }),
    'pubsub.yaml': component('pubsub', 'pubsub.sqlite', 'pubsub.db'),
    'lockstore.yaml': component('lockstore', 'lock.sqlite', 'lock.db'),
    'configstore.yaml': component('configstore', 'configuration.sqlite', 'configuration.db'),
  };
}

/** The same documents as YAML files (`bulwark init`). */
export function embeddedDefaultsYaml(homeDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [file, doc] of Object.entries(embeddedDefaults(homeDir))) out[file] = stringifyYaml(doc);
  return out;
}
