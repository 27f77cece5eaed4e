// Test-owned trace receivers on loopback: an OTLP/HTTP collector (`POST /v1/traces`, JSON
// encoding as the OpenTelemetry exporter sends it) and a Zipkin v2 collector
// (`POST /api/v2/spans`). Both keep every span they receive, in one common shape.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll } from 'vitest';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** CLIENT, SERVER, PRODUCER, CONSUMER or INTERNAL. */
  kind: string;
  service: string;
  attributes: Record<string, string>;
  /** 'ERROR' or ''. */
  status: string;
  tracestate: string;
}

export interface Receiver {
  port: number;
  /** Address in the form `spec.tracing` wants it (otel: host:port; zipkin: full URL). */
  address: string;
  spans: ReceivedSpan[];
  /** Number of export requests received (also those with no spans). */
  requests: number;
  close(): Promise<void>;
}

const servers = new Set<Server>();
afterAll(async () => {
  await Promise.all([...servers].map((s) => new Promise<void>((r) => s.close(() => r()))));
});

const OTLP_KINDS = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
function otlpValue(v: AnyValue): string {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return String(v.intValue);
  if (v.boolValue !== undefined) return String(v.boolValue);
  if (v.doubleValue !== undefined) return String(v.doubleValue);
  return JSON.stringify(v);
}
const attrs = (list: Array<{ key: string; value: AnyValue }> | undefined): Record<string, string> =>
  Object.fromEntries((list ?? []).map((a) => [a.key, otlpValue(a.value)]));

async function listen(handle: (path: string, contentType: string, body: Buffer) => number, addressOf: (port: number) => string): Promise<Receiver> {
  const r: Receiver = { port: 0, address: '', spans: [], requests: 0, close: async () => undefined };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.requests++;
      let status = 500;
      try {
        status = handle(req.url ?? '/', String(req.headers['content-type'] ?? ''), Buffer.concat(chunks));
      } catch (err) {
        console.error('receiver could not decode an export:', err);
      }
      res.writeHead(status, { 'content-type': 'application/json' }).end(status < 300 ? '{}' : '');
    });
  });
  servers.add(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  r.port = (server.address() as AddressInfo).port;
  r.address = addressOf(r.port);
  r.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return r;
}

export async function startOtlpReceiver(): Promise<Receiver> {
  const r: Receiver = await listen(
    (path, contentType, body) => {
      if (path !== '/v1/traces') return 404;
      if (!contentType.includes('json')) return 415;
      const req = JSON.parse(body.toString('utf8')) as {
        resourceSpans?: Array<{
          resource?: { attributes?: Array<{ key: string; value: AnyValue }> };
          scopeSpans?: Array<{ spans?: Array<Record<string, unknown>> }>;
        }>;
      };
      for (const rs of req.resourceSpans ?? []) {
        const service = attrs(rs.resource?.attributes)['service.name'] ?? '';
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            r.spans.push({
              traceId: String(s.traceId),
              spanId: String(s.spanId),
              parentSpanId: String(s.parentSpanId ?? ''),
              name: String(s.name),
              kind: OTLP_KINDS[Number(s.kind)] ?? String(s.kind),
              service,
              attributes: attrs(s.attributes as Array<{ key: string; value: AnyValue }>),
              status: (s.status as { code?: number } | undefined)?.code === 2 ? 'ERROR' : '',
              tracestate: String(s.traceState ?? ''),
            });
          }
        }
      }
      return 200;
    },
    (port) => `127.0.0.1:${port}`,
  );
  return r;
}

export async function startZipkinReceiver(): Promise<Receiver> {
  const r: Receiver = await listen(
    (path, _ct, body) => {
      if (path !== '/api/v2/spans') return 404;
      const list = JSON.parse(body.toString('utf8')) as Array<Record<string, unknown>>;
      for (const s of list) {
        const tags = (s.tags ?? {}) as Record<string, string>;
        r.spans.push({
          traceId: String(s.traceId),
          spanId: String(s.id),
          parentSpanId: String(s.parentId ?? ''),
          name: String(s.name),
          kind: String(s.kind ?? 'INTERNAL'),
          service: String((s.localEndpoint as { serviceName?: string } | undefined)?.serviceName ?? ''),
          attributes: tags,
          status: tags.error !== undefined ? 'ERROR' : '',
          tracestate: '',
        });
      }
      return 202;
    },
    (port) => `http://127.0.0.1:${port}/api/v2/spans`,
  );
  return r;
}

/** A Configuration document with `spec.tracing` pointing at the receivers given. */
export function tracingConfig(opts: { samplingRate: string; otlp?: Receiver; zipkin?: Receiver; extra?: string }): string {
  const lines = ['apiVersion: dapr.io/v1alpha1', 'kind: Configuration', 'metadata:', '  name: tracing', 'spec:', '  tracing:', `    samplingRate: "${opts.samplingRate}"`];
  if (opts.otlp) lines.push('    otel:', `      endpointAddress: "${opts.otlp.address}"`, '      isSecure: false', '      protocol: http');
  if (opts.zipkin) lines.push('    zipkin:', `      endpointAddress: "${opts.zipkin.address}"`);
  if (opts.extra) lines.push(opts.extra);
  return lines.join('\n') + '\n';
}
