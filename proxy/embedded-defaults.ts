// The components `bulwark run` uses when there is no resources folder: everything embedded,
// nothing to install. `bulwark init` writes the same resources as YAML.
import { join } from 'node:path';

export function embeddedDefaultsYaml(homeDir: string): Record<string, string> {
  return {
    'statestore.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.sqlite
  version: v1
  metadata:
  - name: connectionString
    value: "${join(homeDir, 'state.db')}"
  - name: actorStateStore
    value: "true"
`,
    'pubsub.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: pubsub
spec:
  type: pubsub.sqlite
  version: v1
  metadata:
  - name: connectionString
    value: "${join(homeDir, 'pubsub.db')}"
`,
    'lockstore.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: lockstore
spec:
  type: lock.sqlite
  version: v1
  metadata:
  - name: connectionString
    value: "${join(homeDir, 'lock.db')}"
`,
    'configstore.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: configstore
spec:
  type: configuration.sqlite
  version: v1
  metadata:
  - name: connectionString
    value: "${join(homeDir, 'configuration.db')}"
`,
  };
}
