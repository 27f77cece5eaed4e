// The sidecar's tracer when spans are exported: the one tracer (./propagating-tracer.ts: ids,
// parent-based sampling over the trace-id ratio) recording sampled spans into each configured
// exporter. Resource `service.name` = OTEL_SERVICE_NAME or the app id, after the attributes of
// OTEL_RESOURCE_ATTRIBUTES; instrumentation scope `dapr-diagnostics`. Loaded only when some
// exporter is configured.
import type { Logger } from '../../core/component.js';
import { logExporter, otlpProtobufExporter, otlpSdkExporter, zipkinExporter, type ExportContext } from './exporters.js';
import { PropagatingTracer } from './propagating-tracer.js';
import type { RecordedSpan, SpanRecorder } from './recorded-span.js';
import type { TracingSettings } from './settings.js';

export const SCOPE_NAME = 'dapr-diagnostics';

export async function createTracer(settings: TracingSettings, appId: string, logger: Logger, env: Readonly<Record<string, string | undefined>>): Promise<PropagatingTracer> {
  const ctx: ExportContext = {
    resource: { ...resourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES), 'service.name': env.OTEL_SERVICE_NAME || appId },
    scope: SCOPE_NAME,
    report: rateLimited(logger.child({ scope: 'dapr.runtime.diagnostics' })),
  };
  const exporters: SpanRecorder[] = [];
  const otlp = settings.otlp;
  if (otlp) exporters.push(otlp.protocol === 'http' && otlp.encoding === 'protobuf' ? otlpProtobufExporter(otlp, ctx) : await otlpSdkExporter(otlp, ctx));
  if (settings.zipkinUrl) exporters.push(zipkinExporter(settings.zipkinUrl, ctx));
  if (settings.stdout) exporters.push(logExporter(logger.child({ scope: 'dapr.runtime.trace' }), ctx));
  return new PropagatingTracer(settings.samplingRate, exporters.length === 1 ? exporters[0] : new EveryExporter(exporters));
}

/** Hands each ended span to several exporters. */
class EveryExporter implements SpanRecorder {
  constructor(private readonly exporters: readonly SpanRecorder[]) {}

  record(span: RecordedSpan): void {
    for (const e of this.exporters) e.record(span);
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.exporters.map((e) => e.shutdown()));
  }
}

function resourceAttributes(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of (text ?? '').split(',')) {
    const eq = item.indexOf('=');
    if (eq > 0) out[decodeURIComponent(item.slice(0, eq).trim())] = decodeURIComponent(item.slice(eq + 1).trim());
  }
  return out;
}

/** Export failures as log lines, at most one per distinct message every 30 seconds, so a dead collector cannot flood the log. */
function rateLimited(logger: Logger): ExportContext['report'] {
  const lastLogged = new Map<string, number>();
  return (msg, fields) => {
    const now = Date.now();
    if ((lastLogged.get(msg) ?? 0) + 30_000 > now) return false;
    if (lastLogged.size >= 100) lastLogged.clear();
    lastLogged.set(msg, now);
    logger.warn(`trace export failed: ${msg}`, fields);
    return true;
  };
}
