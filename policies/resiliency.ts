// Resiliency for one sidecar: the provider the blocks use, its metrics and the folder watcher,
// built from the resources loaded at start-up. proxy/sidecar.ts calls this once.
import type { Logger } from '../core/component.js';
import type { ResiliencyResource } from '../resources/types.js';
import { ResiliencyMetrics } from './metrics.js';
import { ResiliencyProvider } from './provider.js';
import { parseAll, ResiliencyWatcher } from './reload.js';

export interface ResiliencyOptions {
  appId: string;
  logger: Logger;
  /** Resiliency resources decoded at start-up (already scoped to this app). */
  resources: readonly ResiliencyResource[];
  /** Folders to watch for changes; empty = no hot reload. */
  watchFolders: readonly string[];
  componentType(name: string): string | undefined;
}

export interface Resiliency {
  provider: ResiliencyProvider;
  metrics: ResiliencyMetrics;
  close(): void;
}

export function startResiliency(o: ResiliencyOptions): Resiliency {
  const metrics = new ResiliencyMetrics(o.appId);
  const logger = o.logger;
  const specs = parseAll(o.resources, logger);
  const provider = new ResiliencyProvider({ appId: o.appId, logger, metrics, componentType: o.componentType }, specs);
  if (specs.length > 0) logger.info(`loaded ${specs.length} resiliency resource(s): ${specs.map((s) => s.name).join(', ')}`);
  let watcher: ResiliencyWatcher | undefined;
  if (o.watchFolders.length > 0) {
    watcher = new ResiliencyWatcher({ appId: o.appId, folders: o.watchFolders, logger, apply: (s) => provider.replace(s) });
    watcher.start();
  }
  return { provider, metrics, close: () => watcher?.close() };
}
