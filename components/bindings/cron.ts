// bindings.cron (input only): calls the app on a schedule (see core/cron.ts) with an empty
// body and the metadata timeZone (the scheduler's zone, "Local", as Dapr reports it even for a
// TZ= schedule) and readTimeUTC; a failed call is logged, not replayed.
import { meta, type ComponentContext } from '../../core/component.js';
import { bindingFeatures, type Binding, type BindingEventHandler } from '../../core/bindings/component.js';
import { goUtcString, parseSchedule } from '../../core/cron.js';

const NAME = 'bindings.cron';
const MAX_TIMER_MS = 2 ** 31 - 1;

export async function createCronBinding(ctx: ComponentContext): Promise<Binding> {
  const spec = meta(ctx.metadata, 'schedule');
  if (!spec?.trim()) throw new Error(`${NAME}: metadata "schedule" is required`);
  let schedule;
  try {
    schedule = parseSchedule(spec);
  } catch (err) {
    throw new Error(`${NAME}: metadata "schedule": invalid schedule format '${spec}': ${(err as Error).message}`, { cause: err });
  }
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const stop = (): void => {
    stopped = true;
    clearTimeout(timer);
  };

  return {
    features: bindingFeatures(meta(ctx.metadata, 'direction'), { input: true, output: false }),
    async read(handler: BindingEventHandler) {
      const arm = (due: number): void => {
        if (stopped || !Number.isFinite(due)) return;
        const wait = due - Date.now();
        if (wait > MAX_TIMER_MS) {
          timer = setTimeout(() => arm(due), MAX_TIMER_MS);
          return;
        }
        timer = setTimeout(() => fire(due), Math.max(0, wait));
      };
      const fire = (due: number): void => {
        if (stopped) return;
        const now = Date.now();
        ctx.logger.debug(`${NAME}: schedule fired`);
        handler({ data: Buffer.alloc(0), metadata: { timeZone: 'Local', readTimeUTC: goUtcString(now) } }).catch((err: Error) =>
          ctx.logger.warn(`${NAME}: the app did not take a tick: ${err.message}`),
        );
        arm(schedule.next(Math.max(now, due)));
      };
      arm(schedule.next(Date.now()));
    },
    async close() {
      stop();
    },
  };
}
