// The actor runtime of one sidecar: discovers what the app hosts, routes each call to the
// owner (placement), runs calls for actors owned here (ActorHost), keeps reminders (Reminders)
// and answers the metadata API. Routes live in routes.ts.
import type { PeerClient } from '../app.js';
import type { BlockContext } from '../block.js';
import type { Logger } from '../component.js';
import { DaprError } from '../errors.js';
import type { CallPolicy } from '../policy.js';
import { openActorStateStore, type ActorStateStore } from '../state/actor-state.js';
import type { Span, TraceHeaders } from '../telemetry.js';
import { parseActorConfig, type HostedActors } from './config.js';
import { ActorHost, ERROR_RESPONSE_HEADER, REMINDER_CANCEL_HEADER, isTruthy, type CallInput, type CallResult } from './host.js';
import { INTERNAL_PREFIX, MOVED_HEADER, type ActorPlacement, type PlacementFactory } from './placement.js';
import { Reminders, type StoredReminder } from './reminders.js';

/** Every app call of the actor runtime ends after this, unless a Resiliency timeout is shorter. */
export const DEFAULT_CALL_TIMEOUT_MS = 60_000;
const CONFIG_TIMEOUT_MS = 5_000;

export class ActorsService {
  host: ActorHost | undefined;
  reminders: Reminders | undefined;
  placement: ActorPlacement | undefined;
  peers: PeerClient | undefined;
  readonly state: ActorStateStore | undefined;
  status: 'INITIALIZING' | 'RUNNING' | 'DISABLED' = 'INITIALIZING';
  private healthWatch: NodeJS.Timeout | undefined;
  private hosted: HostedActors = { types: [], byType: new Map() };
  private readonly logger: Logger;

  constructor(
    private readonly ctx: BlockContext,
    private readonly placementFactory: PlacementFactory,
    private readonly callTimeoutMs = DEFAULT_CALL_TIMEOUT_MS,
  ) {
    this.logger = ctx.logger;
    this.state = openActorStateStore(ctx);
  }

  get appId(): string {
    return this.ctx.appId;
  }

  /** The internal listener is bound: placement can announce where this sidecar is. */
  attachPeers(peers: PeerClient): void {
    this.peers = peers;
    this.placement = this.placementFactory(peers.self);
  }

  /** Reads /dapr/config, starts hosting, joins placement, starts reminders; again when the app turns healthy. */
  async start(): Promise<void> {
    const placement = this.placement;
    if (!placement) {
      this.status = 'DISABLED';
      return;
    }
    placement.onChange(() => {
      this.host?.rebalance((t, id) => placement.lookup(t, id) === 'local');
      this.reminders?.kick();
    });
    await this.apply(this.ctx.app ? await this.discover() : this.hosted, placement);
    this.status = 'RUNNING';
    this.watchHealth(placement);
  }

  private async apply(hosted: HostedActors, placement: ActorPlacement): Promise<void> {
    const app = this.ctx.app;
    this.hosted = hosted;
    if (hosted.types.length > 0 && !this.state) {
      this.logger.warn('actors: the app hosts actor types but no state store has metadata actorStateStore: "true"; actor state and reminders will fail');
    }
    if (app && hosted.types.length > 0) {
      if (this.host) this.host.setHosted(hosted);
      else {
        const metrics = this.ctx.telemetry.actors;
        const host = new ActorHost(app, hosted, this.logger, this.callTimeoutMs, metrics);
        this.host = host;
        metrics?.observe(() => ({ ...host.gauges(), reminders: this.reminders?.armedByType() ?? new Map<string, number>() }));
      }
      this.logger.info(`actors: hosting ${hosted.types.join(', ')}`);
    } else {
      this.host?.setHosted(hosted);
    }
    await placement.start(this.host ? hosted.types : []);
    if (this.host && this.state) {
      const host = this.host;
      this.reminders ??= new Reminders(this.state.handle, this.logger, {
        owns: (t, id) => placement.lookup(t, id) === 'local',
        fire: (r) => this.fireReminder(host, r),
      });
      this.reminders.start(hosted.types);
    }
  }

  /** Dapr reads /dapr/config again when the app becomes healthy: its actor types may have changed. */
  private watchHealth(placement: ActorPlacement): void {
    const app = this.ctx.app;
    if (!app) return;
    let healthy = app.isHealthy;
    this.healthWatch = setInterval(() => {
      const now = app.isHealthy;
      if (now && !healthy) {
        void this.discover().then((h) => {
          if (JSON.stringify([h.types, [...h.byType]]) === JSON.stringify([this.hosted.types, [...this.hosted.byType]])) return;
          this.logger.info('actors: the app became healthy with a different actor configuration');
          return this.apply(h, placement);
        }).catch((err: Error) => this.logger.warn(`actors: re-reading /dapr/config failed: ${err.message}`));
      }
      healthy = now;
    }, 500);
    this.healthWatch.unref();
  }

  private async discover(): Promise<HostedActors> {
    try {
      const res = await this.ctx.app!.call({ method: 'GET', path: '/dapr/config', headers: { 'dapr-app-id': this.ctx.appId }, headersTimeout: CONFIG_TIMEOUT_MS, signal: AbortSignal.timeout(CONFIG_TIMEOUT_MS) });
      const text = await res.body.text();
      if (res.statusCode !== 200) return { types: [], byType: new Map() };
      return parseActorConfig(JSON.parse(text), this.logger);
    } catch (err) {
      this.logger.debug(`actors: GET /dapr/config failed: ${(err as Error).message}`);
      return { types: [], byType: new Map() };
    }
  }

  private async fireReminder(host: ActorHost, r: StoredReminder): Promise<{ ok: boolean; cancel: boolean }> {
    const body = JSON.stringify({ dueTime: r.dueTime, period: r.period, ...(r.data !== undefined ? { data: r.data } : {}) });
    let res: CallResult;
    try {
      res = await host.call(r.actorType, r.actorID, `remind/${r.name}`, { headers: { 'content-type': 'application/json' }, body: Buffer.from(body), query: '' });
    } catch (err) {
      this.ctx.telemetry.actors?.reminderFired(r.actorType, false);
      throw err;
    }
    this.ctx.telemetry.actors?.reminderFired(r.actorType, res.status === 200);
    if (res.status !== 200) this.logger.warn(`actors: reminder ${r.name} of ${r.actorType}/${r.actorID} answered ${res.status}`);
    return { ok: res.status === 200, cancel: isTruthy(res.headers[REMINDER_CANCEL_HEADER]) };
  }

  isHosted(type: string): boolean {
    return this.host?.isHosted(type) ?? false;
  }

  /** Runs a call for an actor owned here; app statuses other than 200 become Dapr's error. */
  async runLocal(type: string, id: string, method: string, input: CallInput, signal?: AbortSignal): Promise<CallResult> {
    if (!this.host) throw new DaprError('actorInvokeMethod', `error invoke actor method: this app does not host actor type ${type}`);
    const res = await this.host.call(type, id, method, input, signal, this.ctx.policies.actorTurn(type, id));
    if (res.status === 200 || res.headers[ERROR_RESPONSE_HEADER] !== undefined) return res;
    const why = res.status === 404 ? 'actor method not found' : `error from actor service: (${res.status}) ${res.body.toString('utf8')}`;
    const err = new DaprError('actorInvokeMethod', `error invoke actor method: ${why}`);
    return { status: err.status, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(err.toBody())) };
  }

  /**
   * Routes a call to the owner (waiting briefly while placement settles) under the actor's retry
   * and circuit breaker; the owner applies the actor's timeout once the call holds the turn.
   */
  async invoke(type: string, id: string, method: string, input: CallInput, parent: TraceHeaders | undefined): Promise<CallResult> {
    const placement = this.placement;
    if (!placement) throw new DaprError('actorRuntimeNotFound', 'actor runtime is not initialized');
    const span: Span = this.ctx.telemetry.startSpan(`CallActor/${type}/${method}`, 'client', parent);
    if (span.traceparent) input.headers.traceparent = span.traceparent;
    if (span.tracestate) input.headers.tracestate = span.tracestate;
    if (span.isRecording) {
      span.setAttribute('dapr.actor.type', type);
      span.setAttribute('dapr.actor.id', id);
    }
    const policy: CallPolicy = this.ctx.policies.actor(type, id);
    try {
      const res = await policy.run((signal) => this.route(placement, type, id, method, input, signal), {
        failureStatus: (r) => (r.status === 200 || r.headers[ERROR_RESPONSE_HEADER] !== undefined ? undefined : r.status),
      });
      span.setHttpStatus(res.status);
      return res;
    } catch (err) {
      span.recordError(err);
      if (err instanceof DaprError) throw err;
      throw new DaprError('actorInvokeMethod', `error invoke actor method: ${(err as Error).message}`, { cause: err });
    } finally {
      span.end();
    }
  }

  private async route(placement: ActorPlacement, type: string, id: string, method: string, input: CallInput, signal: AbortSignal | undefined): Promise<CallResult> {
    await placement.watch();
    const deadline = Date.now() + placement.settleMs;
    let why = `did not find address for actor ${type}/${id}: no live host serves actor type ${type}`;
    for (;;) {
      const owner = placement.lookup(type, id);
      if (owner === 'local') return this.runLocal(type, id, method, input, signal);
      if (owner && this.peers) {
        const path = `${INTERNAL_PREFIX}/${encodeURIComponent(type)}/${encodeURIComponent(id)}/method/${method.split('/').map(encodeURIComponent).join('/')}${input.query ? `?${input.query}` : ''}`;
        try {
          const res = await this.peers.request(owner, { method: 'PUT', path, headers: input.headers, body: input.body, ...(signal ? { signal } : {}) });
          const body = Buffer.from(await res.body.arrayBuffer());
          if (!(res.statusCode === 421 && res.headers[MOVED_HEADER])) return { status: res.statusCode, headers: res.headers, body };
          why = `actor ${type}/${id} moved from ${owner.id}`;
        } catch (err) {
          if (!isConnectFailure(err)) throw err;
          why = `host ${owner.id} of actor ${type}/${id} is unreachable: ${(err as Error).message}`;
        }
      }
      if (Date.now() > deadline || signal?.aborted) throw new DaprError('actorInvokeMethod', `error invoke actor method: ${why}`);
      await placement.refresh();
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  metadata(out: Record<string, unknown>): void {
    const counts = this.host?.counts() ?? [];
    if (counts.length > 0) out.actors = counts;
    out.actorRuntime = {
      runtimeStatus: this.status,
      activeActors: counts,
      hostReady: this.status === 'RUNNING',
      placement: `placement: ${this.placement?.connected ? 'connected' : 'disconnected'}`,
    };
  }

  async close(): Promise<void> {
    if (this.healthWatch) clearInterval(this.healthWatch);
    this.reminders?.close();
    await this.placement?.close().catch((err: Error) => this.logger.warn(`actors: leaving placement failed: ${err.message}`));
    await this.host?.close();
  }
}

export function isConnectFailure(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ECONNRESET' || code === 'UND_ERR_SOCKET';
}
