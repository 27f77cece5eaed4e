// Bindings, configuration and lock in Dapr's component metrics and in traces, through a real
// sidecar exporting to a test-owned OTLP receiver: output binding calls carry the API span's
// context to the component, input binding deliveries are spans the app sees as parent, and
// dapr_component_{output_binding,input_binding,configuration}_count count the calls.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEntries } from '../../proxy/naming/local-registry.js';
import { eventually, startSidecar, tempDir, writeFolder, type SidecarProc } from '../helpers/processes.js';
import { startOtlpReceiver, tracingConfig, type Receiver } from '../helpers/trace-receivers.js';
import { componentYaml, invokeBinding, startRecordingApp, type RecordingApp } from '../conformance/bindings-helpers.js';

const TRACE = '0af7651916cd43dd8448eb211c80319c';

describe('bindings, configuration and lock telemetry', () => {
  let otlp: Receiver;
  let app: RecordingApp;
  let sidecar: SidecarProc;
  let serverUrl: string;
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () => res.end('ok'));
  });

  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    otlp = await startOtlpReceiver();
    app = await startRecordingApp(['/tick']);
    const dir = tempDir('bulwark-tel-');
    const config = join(writeFolder({ 'config.yaml': tracingConfig({ samplingRate: '1', otlp }) }), 'config.yaml');
    sidecar = await startSidecar({
      appId: 'bind-tel',
      args: ['--app-port', String(app.port), '--config', config],
      resources: {
        'tick.yaml': componentYaml('tick', 'bindings.cron', { schedule: '@every 1s' }),
        'web.yaml': componentYaml('web', 'bindings.http', { url: serverUrl }),
        'files.yaml': componentYaml('files', 'bindings.localstorage', { rootPath: join(dir, 'files') }),
        'cfg.yaml': componentYaml('cfg', 'configuration.sqlite', { connectionString: join(dir, 'c.db') }),
        'lock.yaml': componentYaml('locks', 'lock.sqlite', { connectionString: join(dir, 'l.db') }),
      },
    });
  });

  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('hands the API span context to an output binding as traceparent metadata', async () => {
    const r = await invokeBinding(sidecar, 'web', { operation: 'get' }, { headers: { traceparent: `00-${TRACE}-b7ad6b7169203331-01` } });
    expect(r.status).toBe(200);
    const tp = String(seen.at(-1)!.traceparent);
    expect(tp.startsWith(`00-${TRACE}-`)).toBe(true);
    expect(tp).not.toBe(`00-${TRACE}-b7ad6b7169203331-01`); // the sidecar's own span is the parent
    const api = await eventually(() => otlp.spans.find((s) => s.traceId === TRACE && tp.includes(s.spanId)), 15_000, 100);
    expect(api.parentSpanId).toBe('b7ad6b7169203331');
  });

  it('delivers input binding events inside a bindings/<name> span the app sees as its parent', async () => {
    const tick = await eventually(async () => (await app.received('/tick')).find((t) => t.headers.traceparent), 20_000, 100);
    const [, traceId, spanId] = tick.headers.traceparent!.split('-');
    const span = await eventually(() => otlp.spans.find((s) => s.traceId === traceId && s.spanId === spanId), 15_000, 100);
    expect(span.name).toBe('bindings/tick');
  });

  it('counts component calls in Dapr metrics', async () => {
    await invokeBinding(sidecar, 'files', { operation: 'create', data: 'x', metadata: { fileName: 'a' } });
    await invokeBinding(sidecar, 'files', { operation: 'get', metadata: { fileName: 'missing' } });
    await fetch(`${sidecar.url}/v1.0/configuration/cfg?key=a`);
    const port = readEntries(sidecar.home).find((e) => e.appId === 'bind-tel')!.metricsPort;
    const text = await eventually(async () => {
      const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return t.includes('dapr_component_input_binding_count{') ? t : undefined;
    }, 20_000, 200);
    const line = (name: string, ...parts: string[]): string | undefined => text.split('\n').find((l) => l.startsWith(`${name}{`) && parts.every((p) => l.includes(p)));
    expect(line('dapr_component_output_binding_count', 'component="files"', 'operation="create"', 'success="true"')).toBeDefined();
    expect(line('dapr_component_output_binding_count', 'component="files"', 'operation="get"', 'success="false"')).toBeDefined();
    expect(line('dapr_component_input_binding_count', 'component="tick"', 'success="true"')).toBeDefined();
    expect(line('dapr_component_configuration_count', 'component="cfg"', 'operation="get"', 'success="true"')).toBeDefined();
  });
});
