// Test-owned trace receivers on loopback: an OTLP/HTTP collector (`POST /v1/traces`, protobuf
// as daprd sends it, or JSON), an OTLP/gRPC collector (TraceService/Export on a grpc-js server)
// and a Zipkin v2 collector (`POST /api/v2/spans`). Each keeps every span it receives, in one
// common shape. Protobuf is decoded with the OTLP schema in test/fixtures/otlp.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { afterAll } from 'vitest';
import { ROOT } from './processes.js';

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
  /** How the sidecar must send to it (`otel.protocol`); Zipkin receivers ignore it. */
  protocol: 'http' | 'grpc';
  /** Content types (or `grpc`) of the export requests received, in order. */
  encodings: string[];
  /** Address in the form `spec.tracing` wants it (otel: host:port; zipkin: full URL). */
  address: string;
  spans: ReceivedSpan[];
  /** Number of export requests received (also those with no spans). */
  requests: number;
  close(): Promise<void>;
}

const servers = new Set<Server>();
const grpcServers = new Set<grpc.Server>();
afterAll(async () => {
  await Promise.all([...servers].map((s) => new Promise<void>((r) => s.close(() => r()))));
  for (const g of grpcServers) g.forceShutdown();
});

// The OTLP schema for decoding protobuf bodies and serving gRPC; the proto's
// field names; ids arrive as bytes, 64-bit integers as strings.
const OTLP_PROTO = loadSync(join(ROOT, 'test/fixtures/otlp/trace-service.proto'), { keepCase: true, longs: String, defaults: false, oneofs: true });
const EXPORT = (OTLP_PROTO['opentelemetry.proto.collector.trace.v1.TraceService'] as grpc.ServiceDefinition)['Export']!;

interface ProtoKeyValue {
  key: string;
  value?: { string_value?: string; int_value?: string; bool_value?: boolean; double_value?: number };
}
interface ProtoRequest {
  resource_spans?: Array<{
    resource?: { attributes?: ProtoKeyValue[] };
    scope_spans?: Array<{
      spans?: Array<{ trace_id?: Buffer; span_id?: Buffer; parent_span_id?: Buffer; name?: string; kind?: number; trace_state?: string; attributes?: ProtoKeyValue[]; status?: { code?: number } }>;
    }>;
  }>;
}

const protoAttrs = (list: ProtoKeyValue[] | undefined): Record<string, string> =>
  Object.fromEntries(
    (list ?? []).map((a) => {
      const v = a.value ?? {};
      return [a.key, v.string_value ?? (v.int_value !== undefined ? String(v.int_value) : v.bool_value !== undefined ? String(v.bool_value) : v.double_value !== undefined ? String(v.double_value) : '')];
    }),
  );
const hex = (b: Buffer | undefined): string => (b && b.length > 0 ? Buffer.from(b).toString('hex') : '');

function collectProto(r: Receiver, req: ProtoRequest): void {
  for (const rs of req.resource_spans ?? []) {
    const service = protoAttrs(rs.resource?.attributes)['service.name'] ?? '';
    for (const ss of rs.scope_spans ?? []) {
      for (const s of ss.spans ?? []) {
        r.spans.push({
          traceId: hex(s.trace_id),
          spanId: hex(s.span_id),
          parentSpanId: hex(s.parent_span_id),
          name: s.name ?? '',
          kind: OTLP_KINDS[s.kind ?? 0] ?? String(s.kind),
          service,
          attributes: protoAttrs(s.attributes),
          status: s.status?.code === 2 ? 'ERROR' : '',
          tracestate: s.trace_state ?? '',
        });
      }
    }
  }
}

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
  const r: Receiver = { port: 0, protocol: 'http', encodings: [], address: '', spans: [], requests: 0, close: async () => undefined };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.requests++;
      r.encodings.push(String(req.headers['content-type'] ?? ''));
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
      if (contentType.includes('protobuf')) {
        collectProto(r, EXPORT.requestDeserialize(body) as ProtoRequest);
        return 200;
      }
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

/** An OTLP/gRPC collector: TraceService/Export on a plaintext grpc-js server. */
export async function startOtlpGrpcReceiver(): Promise<Receiver> {
  const r: Receiver = { port: 0, protocol: 'grpc', encodings: [], address: '', spans: [], requests: 0, close: async () => undefined };
  const server = new grpc.Server();
  server.addService(OTLP_PROTO['opentelemetry.proto.collector.trace.v1.TraceService'] as grpc.ServiceDefinition, {
    Export: (call: grpc.ServerUnaryCall<ProtoRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      r.requests++;
      r.encodings.push('grpc');
      collectProto(r, call.request);
      callback(null, {});
    },
  });
  grpcServers.add(server);
  r.port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
  r.address = `127.0.0.1:${r.port}`;
  r.close = async () => {
    grpcServers.delete(server);
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  };
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
  if (opts.otlp) lines.push('    otel:', `      endpointAddress: "${opts.otlp.address}"`, '      isSecure: false', `      protocol: ${opts.otlp.protocol}`);
  if (opts.zipkin) lines.push('    zipkin:', `      endpointAddress: "${opts.zipkin.address}"`);
  if (opts.extra) lines.push(opts.extra);
  return lines.join('\n') + '\n';
}
