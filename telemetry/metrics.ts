// The Prometheus registry served on --metrics-port. Process metrics now; the Dapr metric
// families (dapr_http_server_*, dapr_component_*, ...) are registered here by name.
// TODO(#8): Dapr's sidecar metric names, labels and buckets.
import { collectDefaultMetrics, Registry } from 'prom-client';

export function createMetricsRegistry(appId: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ app_id: appId });
  collectDefaultMetrics({ register: registry });
  return registry;
}
