// The Dapr gRPC API listener (--dapr-grpc-port): a grpc-js server, plaintext HTTP/2 with prior
// knowledge as the SDKs speak it, serving the blocks' gRPC services from the .proto files the
// npm packages ship (loaded at run time), grpc.health.v1 and server reflection. Every call
// passes the same concerns as the HTTP API, as interceptors listed in order below.
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
import type { Span, Telemetry } from '../../core/telemetry.js';

const LOAD_OPTIONS = { longs: String, enums: Number, defaults: true, oneofs: true } as const;
const HEALTH_SERVICE = 'grpc.health.v1.Health';

/** durabletask's orchestrator_service.proto from @dapr/durabletask-js, parsed at run time. */
function loadDurableTask(): PackageDefinition {
  const require = createRequire(import.meta.url);
  const protoDir = `${dirname(require.resolve('@dapr/durabletask-js/package.json'))}/proto`;
  return loadSync('orchestrator_service.proto', { ...LOAD_OPTIONS, includeDirs: [protoDir] });
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
            const traceparent = md.get('traceparent')[0];
            const tracestate = md.get('tracestate')[0];
            span = telemetry.startSpan(method.path.slice(1), 'server', {
              traceparent: traceparent === undefined ? undefined : String(traceparent),
              tracestate: tracestate === undefined ? undefined : String(tracestate),
            });
            if (span.isRecording) {
              span.setAttribute('rpc.system', 'grpc');
              span.setAttribute('rpc.method', method.path);
            }
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

export interface GrpcListenerOptions {
  apiToken: string | undefined;
  telemetry: Telemetry;
  logger: Logger;
  maxMessageBytes: number;
}

export class GrpcListener {
  private readonly server: Server;
  private readonly definitions: PackageDefinition;
  private injector: ConnectionInjector | undefined;

  constructor(
    services: Record<string, UntypedServiceImplementation>,
    private readonly opts: GrpcListenerOptions,
  ) {
    const interceptors = [
      traceInterceptor(opts.telemetry), // first: the span covers rejected calls too
      apiTokenInterceptor(opts.apiToken),
    ].filter((i): i is ServerInterceptor => i !== null);
    this.server = new Server({
      interceptors,
      'grpc.max_receive_message_length': opts.maxMessageBytes,
      'grpc.max_send_message_length': opts.maxMessageBytes,
    });
    this.definitions = { ...loadDurableTask(), ...fromJSON(HEALTH_JSON as Parameters<typeof fromJSON>[0], LOAD_OPTIONS) };
    const loaded = loadPackageDefinition(this.definitions);
    for (const [name, impl] of Object.entries(services)) {
      const def = serviceOf(loaded, name);
      if (!def) throw new Error(`gRPC service ${name} is not in the loaded .proto files`);
      this.server.addService(def, impl);
    }
    this.server.addService(serviceOf(loaded, HEALTH_SERVICE)!, {
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
