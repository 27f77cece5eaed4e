// Configuration `spec.tracing` as daprd reads it, with the OTEL_EXPORTER_OTLP_* environment
// fallback when no OTLP endpoint is configured.

export interface OtlpSettings {
  /**
   * Full URL of the traces endpoint: `http[s]://host:port/v1/traces` over HTTP,
   * `http[s]://host:port` over gRPC (the scheme selects TLS).
   */
  url: string;
  /** `http`: OTLP/HTTP, as daprd sends it (protobuf body); `grpc`: OTLP/gRPC. */
  protocol: 'http' | 'grpc';
  /** The HTTP body: protobuf (daprd's only one), or JSON when OTEL_EXPORTER_OTLP_PROTOCOL is `http/json`. */
  encoding: 'protobuf' | 'json';
  headers: Record<string, string>;
  timeoutMs?: number;
  /** OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION=gzip (OpenTelemetry's exporters honoured it; ours keeps doing so). */
  gzip: boolean;
}

export interface TracingSettings {
  /** 0 disables tracing altogether (no layers; incoming context passes through). */
  samplingRate: number;
  stdout: boolean;
  zipkinUrl?: string;
  otlp?: OtlpSettings;
}

/** Dapr's rate when `samplingRate` is empty or not a number: one trace in ten thousand. */
export const DEFAULT_SAMPLING_RATE = 0.0001;

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : String(v));

export function tracingSettings(raw: Raw, env: Readonly<Record<string, string | undefined>>): TracingSettings {
  const gzip = (env.OTEL_EXPORTER_OTLP_TRACES_COMPRESSION || env.OTEL_EXPORTER_OTLP_COMPRESSION) === 'gzip';
  let rateText = str(raw.samplingRate)?.trim() ?? '';
  const stdout = raw.stdout === true || str(raw.stdout) === 'true';
  const zipkin = isObj(raw.zipkin) ? str(raw.zipkin.endpointAddress) : undefined;
  let otlp: OtlpSettings | undefined;
  const otel = isObj(raw.otel) ? raw.otel : {};
  const endpoint = str(otel.endpointAddress)?.trim();
  if (endpoint) {
    const protocol = str(otel.protocol)?.trim();
    if (protocol !== 'http' && protocol !== 'grpc') {
      throw new Error(`Configuration spec.tracing.otel.protocol: must be http or grpc, got ${protocol === undefined ? 'nothing' : JSON.stringify(protocol)}`);
    }
    const secure = otel.isSecure === undefined ? true : otel.isSecure === true || str(otel.isSecure) === 'true';
    otlp = {
      url: otlpUrl(endpoint, secure, protocol),
      protocol,
      encoding: 'protobuf',
      headers: headerList(otel.headers),
      gzip,
      ...(otel.timeout !== undefined ? { timeoutMs: durationMs(str(otel.timeout)!) } : {}),
    };
  } else {
    const envEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
    if (envEndpoint) {
      const proto = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'grpc';
      const secure = env.OTEL_EXPORTER_OTLP_INSECURE !== 'true';
      const timeout = env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT || env.OTEL_EXPORTER_OTLP_TIMEOUT;
      const protocol = proto.startsWith('http') ? 'http' : 'grpc';
      otlp = {
        url: otlpUrl(envEndpoint.replace(/^https?:\/\//, ''), secure, protocol),
        protocol,
        // Beyond daprd (protobuf only): the OpenTelemetry name for JSON bodies is honoured.
        encoding: proto === 'http/json' ? 'json' : 'protobuf',
        headers: headerList((env.OTEL_EXPORTER_OTLP_TRACES_HEADERS || env.OTEL_EXPORTER_OTLP_HEADERS || '').split(',')),
        gzip,
        ...(timeout && Number.isFinite(Number(timeout)) ? { timeoutMs: Number(timeout) } : {}),
      };
      if (rateText === '') rateText = '1';
    }
  }
  const parsed = Number(rateText);
  const samplingRate = rateText === '' || !Number.isFinite(parsed) ? DEFAULT_SAMPLING_RATE : Math.min(1, Math.max(0, parsed));
  return {
    samplingRate,
    stdout,
    ...(zipkin ? { zipkinUrl: zipkin } : {}),
    ...(otlp ? { otlp } : {}),
  };
}

function otlpUrl(endpoint: string, secure: boolean, protocol: 'http' | 'grpc'): string {
  const base = endpoint.replace(/\/+$/, '');
  // gRPC names the service, not a path; over HTTP an address with a path already names the
  // traces endpoint.
  const path = protocol === 'grpc' || base.includes('/') ? '' : '/v1/traces';
  return `${secure ? 'https' : 'http'}://${base}${path}`;
}

function headerList(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const items = Array.isArray(v) ? v : [];
  for (const item of items) {
    if (isObj(item) && item.name !== undefined) {
      out[String(item.name)] = str(item.value) ?? '';
      continue;
    }
    const s = String(item);
    const eq = s.indexOf('=');
    if (eq > 0) out[s.slice(0, eq).trim()] = s.slice(eq + 1).trim();
  }
  return out;
}

function durationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`Configuration spec.tracing.otel.timeout: not a duration: ${text}`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000;
}
