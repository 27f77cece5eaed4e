// Dapr's dapr_runtime_actor_* metrics on the sidecar's registry. Labels carry the actor type
// only (never an id), so the series count is bounded by the types the app hosts.
import { Counter, Gauge, type Registry } from './prom.js';
import type { ActorGauges, ActorMetrics } from '../../core/telemetry.js';

export class DaprActorMetrics implements ActorMetrics {
  private source: (() => ActorGauges) | undefined;
  private readonly timersFired: Counter<string>;
  private readonly remindersFired: Counter<string>;
  private readonly deactivatedOk: Counter<string>;
  private readonly deactivatedFailed: Counter<string>;
  private readonly rebalancedCount: Counter<string>;

  constructor(registry: Registry) {
    const counter = (name: string, help: string, labelNames: string[]): Counter<string> => new Counter({ name, help, labelNames, registers: [registry] });
    const gauge = (name: string, help: string, pick: (g: ActorGauges) => ReadonlyMap<string, number>): void => {
      const self = this;
      new Gauge({
        name,
        help,
        labelNames: ['actor_type'],
        registers: [registry],
        collect() {
          this.reset();
          const g = self.source?.();
          if (g) for (const [type, n] of pick(g)) this.set({ actor_type: type }, n);
        },
      });
    };
    gauge('dapr_runtime_actor_pending_actor_calls', 'The number of pending actor calls waiting to acquire the per-actor lock.', (g) => g.pendingCalls);
    gauge('dapr_runtime_actor_timers', 'The number of actor timer requests.', (g) => g.timers);
    gauge('dapr_runtime_actor_reminders', 'The number of actor reminder requests.', (g) => g.reminders);
    this.timersFired = counter('dapr_runtime_actor_timers_fired_total', 'The number of actor timers fired requests.', ['actor_type', 'success']);
    this.remindersFired = counter('dapr_runtime_actor_reminders_fired_total', 'The number of actor reminders fired requests.', ['actor_type', 'success']);
    this.deactivatedOk = counter('dapr_runtime_actor_deactivated_total', 'The number of actor deactivations.', ['actor_type']);
    this.deactivatedFailed = counter('dapr_runtime_actor_deactivated_failed_total', 'The number of actor deactivation failures.', ['actor_type']);
    this.rebalancedCount = counter('dapr_runtime_actor_rebalanced_total', 'The number of actor rebalance requests.', ['actor_type']);
  }

  observe(gauges: () => ActorGauges): void {
    this.source = gauges;
  }

  timerFired(actorType: string, success: boolean): void {
    this.timersFired.inc({ actor_type: actorType, success: String(success) });
  }

  reminderFired(actorType: string, success: boolean): void {
    this.remindersFired.inc({ actor_type: actorType, success: String(success) });
  }

  deactivated(actorType: string, success: boolean): void {
    (success ? this.deactivatedOk : this.deactivatedFailed).inc({ actor_type: actorType });
  }

  rebalanced(actorType: string): void {
    this.rebalancedCount.inc({ actor_type: actorType });
  }
}
