// The publish API: single publish on v1.0, bulk publish on v1.0-alpha1 and v1.0 (since 1.17).
import type { Exchange, Route } from '../http.js';
import { DaprError } from '../errors.js';
import { noTelemetry, type Telemetry } from '../telemetry.js';
import { bulkEntriesFromJson, publishRecorded, type PubSubService } from './service.js';
import { childContext } from './trace.js';

// With tracing on, the event carries the API span itself (as Dapr writes it); otherwise a child
// of the caller's context, or a new trace.
function trace(ex: Exchange): { traceparent: string; tracestate: string } {
  const span = ex.span;
  if (span?.traceparent) return { traceparent: span.traceparent, tracestate: span.tracestate ?? '' };
  return childContext(ex.header('traceparent'), ex.header('tracestate'));
}

export function pubsubRoutes(service: PubSubService, telemetry: Telemetry = noTelemetry): Route[] {
  const publish = async (ex: Exchange): Promise<void> => {
    const pubsubName = ex.params.pubsub!;
    const topic = ex.params.topic ?? '';
    service.resolve(pubsubName, topic, ex);
    const body = await ex.body();
    const input = { pubsubName, topic, body, contentType: ex.header('content-type'), metadata: ex.queryMetadata(), trace: trace(ex) };
    await publishRecorded(service, telemetry, input, ex.span);
    ex.sendEmpty(204);
  };

  const bulk = async (ex: Exchange): Promise<void> => {
    const pubsubName = ex.params.pubsub!;
    const topic = ex.params.topic ?? '';
    service.resolve(pubsubName, topic, ex);
    const buf = await ex.body();
    let body: unknown;
    try {
      body = JSON.parse(buf.toString('utf8'));
    } catch (err) {
      throw new DaprError('pubsubUnmarshalEvents', `error when unmarshaling the request for topic ${topic} pubsub ${pubsubName}: ${(err as Error).message}`, { cause: err });
    }
    const parent = ex.header('traceparent');
    const state = ex.header('tracestate');
    const failed = await service.bulkPublish(pubsubName, topic, bulkEntriesFromJson(body), ex.queryMetadata(), () => childContext(parent, state));
    if (failed.length === 0) return ex.sendEmpty(204);
    const data = { failedEntries: failed };
    ex.sendJson(500, { ...data, errorCode: 'ERR_PUBSUB_PUBLISH_MESSAGE' }, {
      'metadata.responseData': JSON.stringify(data),
      'metadata.error': failed[0]!.error.replace(/[\r\n]/g, ' '),
    });
  };

  // The topic-less forms (`/publish/{pubsub}` and `/publish/{pubsub}/`, one path once cleaned)
  // reach the handlers so that an empty topic answers ERR_TOPIC_NAME_EMPTY after the pubsub checks.
  const routes: Route[] = [];
  for (const method of ['POST', 'PUT']) {
    for (const tail of ['', '/{topic*}']) {
      routes.push({ method, path: `/v1.0/publish/{pubsub}${tail}`, group: 'publish', handler: publish });
      for (const v of ['v1.0-alpha1', 'v1.0']) {
        routes.push({ method, path: `/${v}/publish/bulk/{pubsub}${tail}`, group: 'publish', handler: bulk });
      }
    }
  }
  return routes;
}
