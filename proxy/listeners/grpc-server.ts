// The Dapr gRPC API listener (--dapr-grpc-port): a grpc-js server, plaintext HTTP/2 with prior
// knowledge as the SDKs speak it, serving `dapr.proto.runtime.v1.Dapr` and durabletask's
// `TaskHubSidecarService` from the .proto files the npm packages ship (loaded at run time),
// grpc.health.v1 and server reflection. The rpcs are the blocks' (each block gives the methods
// it serves; an rpc nobody serves answers UNIMPLEMENTED). Every call passes the same concerns
// as the HTTP API, as interceptors listed in order below.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import type { Duplex } from 'node:stream';
import {
  Server,
  ServerCredentials,
  ServerInterceptingCall,
  status as Code,
  type GrpcObject,
  type ServerInterceptor,
  type ConnectionInjector,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { fromJSON, loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { loadPackageDefinition } from '@grpc/grpc-js';
import type { Logger } from '../../core/component.js';
import { DAPR_SERVICE, setGrpcErrorLogger, type GrpcMethods } from '../../core/grpc.js';
import type { Span, Telemetry } from '../../core/telemetry.js';
import type { DaprMetrics } from '../../telemetry/metrics/dapr-metrics.js';

const LOAD_OPTIONS = { longs: String, enums: Number, defaults: true, oneofs: true } as const;
const HEALTH_SERVICE = 'grpc.health.v1.Health';

let loaded: PackageDefinition | undefined;

/**
 * Dapr's runtime API (dapr.proto from @dapr/dapr) and durabletask's orchestrator_service.proto
 * (from @dapr/durabletask-js), parsed once per process, on the first connection.
 */
function loadProtos(): PackageDefinition {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const dir = (pkg: string): string => `${dirname(require.resolve(`${pkg}/package.json`))}/proto`;
  loaded = loadSync(['orchestrator_service.proto', 'dapr/proto/runtime/v1/dapr.proto'], { ...LOAD_OPTIONS, includeDirs: [dir('@dapr/durabletask-js'), dir('@dapr/dapr')] });
  return loaded;
}

// grpc.health.v1 as a protobufjs JSON descriptor: the standard health protocol, four messages.
const HEALTH_JSON = {
  nested: {
    grpc: {
      nested: {
        health: {
          nested: {
            v1: {
              nested: {
                HealthCheckRequest: { fields: { service: { type: 'string', id: 1 } } },
                HealthCheckResponse: {
                  fields: { status: { type: 'ServingStatus', id: 1 } },
                  nested: { ServingStatus: { values: { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } } },
                },
                Health: {
                  methods: {
                    Check: { requestType: 'HealthCheckRequest', responseType: 'HealthCheckResponse' },
                    Watch: { requestType: 'HealthCheckRequest', responseType: 'HealthCheckResponse', responseStream: true },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

function serviceOf(obj: GrpcObject, name: string): ServiceDefinition | undefined {
  let cur: unknown = obj;
  for (const part of name.split('.')) cur = (cur as Record<string, unknown> | undefined)?.[part];
  return (cur as { service?: ServiceDefinition } | undefined)?.service;
}

/** dapr-api-token metadata, checked as the HTTP API checks the header; health is exempt. */
function apiTokenInterceptor(token: string | undefined): ServerInterceptor | null {
  if (!token) return null;
  const expected = Buffer.from(token);
  return (method, call) =>
    new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (md, mdNext) => {
            if (method.path.startsWith(`/${HEALTH_SERVICE}/`)) return mdNext(md);
            const given = md.get('dapr-api-token')[0];
            const buf = given === undefined ? undefined : Buffer.from(String(given));
            if (!buf || buf.length !== expected.length || !timingSafeEqual(buf, expected)) {
              call.sendStatus({ code: Code.UNAUTHENTICATED, details: 'authentication error: invalid api token' });
              return;
            }
            md.remove('dapr-api-token');
            mdNext(md);
          },
        }),
    });
}

/** A server span per call, child of the caller's traceparent, ended with the call's status. */
function traceInterceptor(telemetry: Telemetry): ServerInterceptor {
  return (method, call) => {
    let span: Span | undefined;
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (md, mdNext) => {
            const given = md.get('traceparent')[0];
            const traceparent = given === undefined ? fromTraceBin(md.get('grpc-trace-bin')[0]) : String(given);
            const tracestate = md.get('tracestate')[0];
            span = telemetry.startSpan(method.path.slice(1), 'server', {
              traceparent,
              tracestate: tracestate === undefined ? undefined : String(tracestate),
            });
            if (span.isRecording) {
              span.setAttribute('rpc.system', 'grpc');
              span.setAttribute('rpc.service', method.path.slice(1, method.path.lastIndexOf('/')));
              span.setAttribute('rpc.method', method.path.slice(method.path.lastIndexOf('/') + 1));
            }
            // The handlers read the context from the metadata: give them this span as parent.
            if (span.traceparent) md.set('traceparent', span.traceparent);
            if (span.tracestate) md.set('tracestate', span.tracestate);
            mdNext(md);
          },
        }),
      sendStatus: (status, next) => {
        if (span) {
          if (status.code !== Code.OK) span.recordError(new Error(`${Code[status.code]}: ${status.details}`));
          span.end();
          span = undefined;
        }
        next(status);
      },
    });
  };
}

/** The OpenCensus binary context (grpc-trace-bin) Dapr's gRPC SDKs send, as a traceparent. */
export function fromTraceBin(v: string | Buffer | undefined): string | undefined {
  if (!Buffer.isBuffer(v) || v.length < 29 || v[0] !== 0 || v[1] !== 0 || v[18] !== 1 || v[27] !== 2) return undefined;
  const traceId = v.subarray(2, 18).toString('hex');
  const spanId = v.subarray(19, 27).toString('hex');
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return `00-${traceId}-${spanId}-${(v[28]! & 1) === 1 ? '01' : '00'}`;
}

// Go's names of the status codes, the grpc_server_status label Dapr's metrics carry.
const GO_CODE_NAMES = [
  'OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied',
  'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated',
];

/** dapr_grpc_io_server_completed_rpcs and _server_latency per method and status. */
function metricsInterceptor(metrics: DaprMetrics | undefined): ServerInterceptor | null {
  if (!metrics) return null;
  return (method, call) => {
    const started = performance.now();
    return new ServerInterceptingCall(call, {
      sendStatus: (status, next) => {
        metrics.recordGrpcServer(method.path, GO_CODE_NAMES[status.code] ?? 'Unknown', performance.now() - started);
        next(status);
      },
    });
  };
}

export interface GrpcListenerOptions {
  apiToken: string | undefined;
  telemetry: Telemetry;
  metrics: DaprMetrics | undefined;
  logger: Logger;
  maxMessageBytes: number;
}

/** Each service's methods from every contributor, merged (a later contributor may not take a method twice). */
function mergeServices(parts: ReadonlyArray<Record<string, GrpcMethods> | undefined>): Map<string, GrpcMethods> {
  const out = new Map<string, GrpcMethods>();
  for (const part of parts) {
    for (const [service, methods] of Object.entries(part ?? {})) {
      const into = out.get(service) ?? {};
      for (const [name, fn] of Object.entries(methods)) {
        if (name in into) throw new Error(`gRPC method ${service}/${name} is served twice`);
        into[name] = fn;
      }
      out.set(service, into);
    }
  }
  return out;
}

/** gRPC's answer for an rpc of a known service that this runtime does not serve. */
function unimplemented(service: string, name: string, def: ServiceDefinition[string]): UntypedServiceImplementation[string] {
  const status = { code: Code.UNIMPLEMENTED, details: `${service}/${name} is not implemented by bulwark` };
  if (!def.responseStream && !def.requestStream) return (_call: unknown, cb: (err: typeof status) => void) => cb(status);
  if (!def.requestStream) return (call: { emit(ev: 'error', e: typeof status): void }) => call.emit('error', status);
  return (call: { emit(ev: 'error', e: typeof status): void }, cb?: (err: typeof status) => void) => (def.responseStream ? call.emit('error', status) : cb?.(status));
}

export class GrpcListener {
  private readonly server: Server;
  private readonly definitions: PackageDefinition;
  private injector: ConnectionInjector | undefined;

  constructor(
    contributions: ReadonlyArray<Record<string, GrpcMethods> | undefined>,
    private readonly opts: GrpcListenerOptions,
  ) {
    setGrpcErrorLogger(opts.logger);
    // Outermost first, in the HTTP API's order.
    const interceptors = [
      traceInterceptor(opts.telemetry), // first: the span covers rejected calls too
      metricsInterceptor(opts.metrics), // before the token check: rejected calls are counted
      apiTokenInterceptor(opts.apiToken),
    ].filter((i): i is ServerInterceptor => i !== null);
    this.server = new Server({
      interceptors,
      'grpc.max_receive_message_length': opts.maxMessageBytes,
      'grpc.max_send_message_length': opts.maxMessageBytes,
    });
    this.definitions = { ...loadProtos(), ...fromJSON(HEALTH_JSON as Parameters<typeof fromJSON>[0], LOAD_OPTIONS) };
    const grpcObject = loadPackageDefinition(this.definitions);
    const services = mergeServices(contributions);
    if (!services.has(DAPR_SERVICE)) services.set(DAPR_SERVICE, {});
    for (const [name, impl] of services) {
      const def = serviceOf(grpcObject, name);
      if (!def) throw new Error(`gRPC service ${name} is not in the loaded .proto files`);
      for (const m of Object.keys(impl)) if (!(m in def)) throw new Error(`gRPC service ${name} has no method ${m}`);
      const full: UntypedServiceImplementation = {};
      for (const [m, d] of Object.entries(def)) full[m] = impl[m] ?? unimplemented(name, m, d);
      this.server.addService(def, full);
    }
    this.server.addService(serviceOf(grpcObject, HEALTH_SERVICE)!, {
      Check: (_call: unknown, cb: (err: null, res: { status: number }) => void) => cb(null, { status: 1 }),
      Watch: (call: { write(m: unknown): void }) => call.write({ status: 1 }),
    });
    new ReflectionService(this.definitions).addToServer(this.server);
  }

  listen(port: number, address: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`${address.includes(':') ? `[${address}]` : address}:${port}`, ServerCredentials.createInsecure(), (err, bound) => {
        if (err) reject(new Error(`--dapr-grpc-port ${port}: ${/in use/i.test(err.message) ? 'port is already in use' : err.message}`));
        else resolve(bound);
      });
    });
  }

  /** Serves a connection accepted elsewhere (./grpc-on-demand.ts owns the port) as if accepted here. */
  serve(socket: Duplex): void {
    this.injector ??= this.server.createConnectionInjector(ServerCredentials.createInsecure());
    this.injector.injectConnection(socket);
  }

  close(graceMs: number): Promise<void> {
    return new Promise((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      force.unref();
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}
