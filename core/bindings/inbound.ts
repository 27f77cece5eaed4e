// Input bindings: which ones start (the `direction` metadata, else the app's OPTIONS probe),
// and how each event reaches the app: POST /<route> under the component inbound policy, with
// the event metadata as headers and a trace context. The policy retries anything but 200; a
// final answer outside 2xx is a failure that the component may nack and redeliver.
import type { AppCaller } from '../app.js';
import type { LoadedComponent } from '../block.js';
import { meta, type Logger } from '../component.js';
import type { PolicyProvider } from '../policy.js';
import type { Telemetry } from '../telemetry.js';
import { isInputBinding, parseDirection, type Binding, type BindingEvent, type InputBinding } from './component.js';

const PROBE_TIMEOUT_MS = 3000;

export class AppDeliveryError extends Error {
  override readonly name = 'AppDeliveryError';
}

export class InputBindings {
  private closed = false;
  readonly started: string[] = [];

  constructor(
    private readonly loaded: ReadonlyMap<string, LoadedComponent>,
    private readonly app: AppCaller | undefined,
    private readonly policies: PolicyProvider,
    private readonly telemetry: Telemetry,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    if (!this.app) return;
    for (const [name, c] of this.loaded) {
      const b = c.instance as Binding;
      if (!isInputBinding(b)) continue;
      const dir = parseDirection(meta(c.metadata, 'direction'));
      if (dir && !dir.input) continue;
      // Dapr reads the key `route` exactly as spelled.
      const route = normalizeRoute(c.metadata.route || name);
      if (!dir && !(await this.probe(route))) {
        this.logger.debug(`input binding ${name}: the app does not listen on ${route}; not started`);
        continue;
      }
      await this.startOne(name, route, b);
    }
  }

  private async startOne(name: string, route: string, b: InputBinding): Promise<void> {
    try {
      await b.read((event) => this.deliver(name, route, event));
      this.started.push(name);
      this.logger.info(`input binding ${name} started, delivering to ${route}`);
    } catch (err) {
      this.logger.error(`input binding ${name} failed to start: ${(err as Error).message}`);
    }
  }

  private async probe(route: string): Promise<boolean> {
    try {
      const res = await this.app!.call({
        method: 'OPTIONS',
        path: route,
        headers: { 'content-type': 'application/json' },
        headersTimeout: PROBE_TIMEOUT_MS,
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      });
      await res.body.dump();
      return (res.statusCode >= 200 && res.statusCode < 300) || res.statusCode === 405;
    } catch {
      return false;
    }
  }

  private async deliver(name: string, route: string, event: BindingEvent): Promise<Buffer> {
    if (this.closed) throw new AppDeliveryError(`input binding ${name} is stopping`);
    const span = this.telemetry.startSpan(`bindings/${name}`, 'consumer', {
      traceparent: event.metadata.traceparent,
      tracestate: event.metadata.tracestate,
    });
    const started = performance.now();
    let ok = false;
    try {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(event.metadata)) if (isHeaderSafe(k, v)) headers[k.toLowerCase()] = v;
      headers['content-type'] = 'application/json';
      if (span.traceparent) headers.traceparent = span.traceparent;
      if (span.tracestate) headers.tracestate = span.tracestate;
      const result = await this.policies.componentInbound(name).run(
        async (signal) => {
          const res = await this.app!.call({ method: 'POST', path: route, headers, body: event.data, ...(signal ? { signal } : {}) });
          const body = Buffer.from(await res.body.arrayBuffer());
          return { status: res.statusCode, body };
        },
        { failureStatus: (r) => (r.status === 200 ? undefined : r.status) },
      );
      span.setHttpStatus(result.status);
      // Only 200 passes the policy (other answers are retried), but once retries end any 2xx
      // counts as delivered, as in Dapr.
      if (result.status < 200 || result.status > 299) {
        throw new AppDeliveryError(`fails to send binding event to http app channel, status code: ${result.status} body: ${result.body.toString('utf8').slice(0, 200)}`);
      }
      ok = true;
      return result.body;
    } catch (err) {
      span.recordError(err);
      throw err;
    } finally {
      span.end();
      this.telemetry.recordComponent('input_binding', name, 'event', ok, performance.now() - started);
    }
  }

  close(): void {
    this.closed = true;
  }
}

function normalizeRoute(route: string): string {
  return route.startsWith('/') ? route : `/${route}`;
}

function isHeaderSafe(name: string, value: string): boolean {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) && !/[\r\n\0]/.test(value);
}
