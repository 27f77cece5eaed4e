// The components `bulwark run` uses when there is no resources folder: everything embedded,
// nothing to install. `bulwark init` writes the same resources as YAML. They are kept as the
// documents the YAML reader would produce, so a sidecar on the defaults decodes them without
// loading a YAML parser (see resources/yaml-file.ts).
import { join } from 'node:path';

interface EmbeddedComponent {
  name: string;
  type: string;
  /** spec.metadata, in order. */
  metadata: Array<{ name: string; value: string }>;
}

function components(homeDir: string): Record<string, EmbeddedComponent> {
  const sqlite = (file: string): { name: string; value: string } => ({ name: 'connectionString', value: join(homeDir, file) });
  return {
    'statestore.yaml': { name: 'statestore', type: 'state.sqlite', metadata: [sqlite('state.db'), { name: 'actorStateStore', value: 'true' }] },
    'pubsub.yaml': { name: 'pubsub', type: 'pubsub.sqlite', metadata: [sqlite('pubsub.db')] },
    'lockstore.yaml': { name: 'lockstore', type: 'lock.sqlite', metadata: [sqlite('lock.db')] },
    'configstore.yaml': { name: 'configstore', type: 'configuration.sqlite', metadata: [sqlite('configuration.db')] },
  };
}

/** The default Component documents by file name, as plain values (what reading their YAML gives). */
export function embeddedDefaults(homeDir: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [file, c] of Object.entries(components(homeDir))) {
    out[file] = {
      apiVersion: 'dapr.io/v1alpha1',
      kind: 'Component',
      metadata: { name: c.name },
      spec: { type: c.type, version: 'v1', metadata: c.metadata.map((m) => ({ ...m })) },
    };
  }
  return out;
}

/** The same documents as YAML files (`bulwark init`). */
export function embeddedDefaultsYaml(homeDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [file, c] of Object.entries(components(homeDir))) {
    // A JSON string is a valid YAML double-quoted scalar: paths with quotes or backslashes stay intact.
    const metadata = c.metadata.map((m) => `  - name: ${m.name}\n    value: ${JSON.stringify(m.value)}\n`).join('');
    out[file] = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: ${c.name}
spec:
  type: ${c.type}
  version: v1
  metadata:
${metadata}`;
  }
  return out;
}
