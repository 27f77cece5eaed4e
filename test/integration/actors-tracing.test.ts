// Actor calls continue the caller's trace: through a real sidecar with sampling 1 and an OTLP
// receiver, a call carrying the app's traceparent yields CallActor spans in that trace, linked
// back to the caller's span.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { callActor, sqliteActorStore, startActorHost } from '../helpers/actors.js';
import { eventually, tempDir, writeFolder } from '../helpers/processes.js';
import { startOtlpReceiver, tracingConfig } from '../helpers/trace-receivers.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

describe('actor call spans', () => {
  it('parents the CallActor span to the caller\'s trace', async () => {
    const otlp = await startOtlpReceiver();
    const dir = tempDir('bulwark-actor-trace-');
    const config = join(writeFolder({ 'config.yaml': tracingConfig({ samplingRate: '1', otlp }) }), 'config.yaml');
    const host = await startActorHost({
      appId: 'traced-actors',
      home: tempDir('bulwark-home-'),
      resources: { 'store.yaml': sqliteActorStore(join(dir, 'actors.db')) },
      args: ['--config', config],
    });
    const res = await callActor(host, 'Counter', 'tr-1', 'echo', { hi: 1 }, 'POST', { traceparent: `00-${TRACE}-${PARENT}-01` });
    expect(res.status).toBe(200);
    // The API span (renamed CallActor/<type>/<method>, as Dapr names it) is the caller's child;
    // the actor call span under it carries the actor type and id.
    const api = await eventually(() => otlp.spans.find((s) => s.traceId === TRACE && s.parentSpanId === PARENT));
    expect(api).toMatchObject({ name: 'CallActor/Counter/echo', kind: 'CLIENT', service: 'traced-actors' });
    expect(api.attributes).toMatchObject({ 'dapr.actor': 'Counter.tr-1', 'dapr.status_code': '200' });
    const call = await eventually(() => otlp.spans.find((s) => s.traceId === TRACE && s.parentSpanId === api.spanId));
    expect(call).toMatchObject({ name: 'CallActor/Counter/echo', status: '' });
    expect(call.attributes).toMatchObject({ 'dapr.actor.type': 'Counter', 'dapr.actor.id': 'tr-1' });
  });
});
