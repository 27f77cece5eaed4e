// Every backend bulwark ships, one line each.
import { ComponentRegistry } from './registry.js';
import { createLocalEnvSecretStore } from './secretstores/local-env.js';
import { createLocalFileSecretStore } from './secretstores/local-file.js';

export function builtinComponents(): ComponentRegistry {
  return new ComponentRegistry()
    .register('secretstores', ['secretstores.local.file'], createLocalFileSecretStore)
    .register('secretstores', ['secretstores.local.env'], createLocalEnvSecretStore);
}
