// The local services integration suites use (Redis, PostgreSQL, NATS, RabbitMQ, Mosquitto).
// Without REQUIRE_SERVICES=1 a suite whose service is down is skipped with a visible reason;
// with it (as .ci/run sets), a missing service fails the run.
import { connect } from 'node:net';

export const SERVICES = {
  redis: 6379,
  postgres: 5432,
  nats: 4222,
  rabbitmq: 5672,
  mqtt: 1883,
} as const;

export type ServiceName = keyof typeof SERVICES;

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * Resolves true when the service is up. When it is down: throws under REQUIRE_SERVICES=1,
 * otherwise prints why the suite skips and resolves false (use with describe.skipIf / ctx.skip).
 */
export async function serviceAvailable(name: ServiceName): Promise<boolean> {
  if (await reachable(SERVICES[name])) return true;
  const msg = `${name} is not reachable on 127.0.0.1:${SERVICES[name]}`;
  if (process.env.REQUIRE_SERVICES === '1') throw new Error(`${msg} and REQUIRE_SERVICES=1`);
  console.warn(`SKIPPED: ${msg} (set REQUIRE_SERVICES=1 to make this a failure)`);
  return false;
}
