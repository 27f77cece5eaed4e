// A real broker restart (not a cut connection): a private redis-server / nats-server on a free
// port, stopped and started again on the same data directory while a component is connected.
// Publishing fails clearly while it is down; afterwards the same component publishes again and
// its subscription, restored from the broker's stored state, delivers again.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../cli/free-port.js';
import { builtinComponents } from '../../components/index.js';
import type { Logger } from '../../core/component.js';
import type { PubSub, ReceivedMessage } from '../../core/pubsub/component.js';
import { eventually, startProcess, stopProcess, tempDir, type Proc } from '../helpers/processes.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

interface ServerCase {
  type: string;
  binary: string;
  start(port: number, dir: string): Proc;
  ready: RegExp;
  metadata(port: number): Record<string, string>;
}

const CASES: ServerCase[] = [
  {
    type: 'pubsub.redis',
    binary: 'redis-server',
    start: (port, dir) => startProcess('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '']),
    ready: /Ready to accept connections/,
    metadata: (port) => ({ redisHost: `127.0.0.1:${port}`, processingTimeout: '1000', redeliverInterval: '200' }),
  },
  {
    type: 'pubsub.jetstream',
    binary: 'nats-server',
    start: (port, dir) => startProcess('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir]),
    ready: /Server is ready/,
    metadata: (port) => ({ natsURL: `nats://127.0.0.1:${port}` }),
  },
];

for (const c of CASES) {
  if (!has(c.binary)) {
    if (process.env.REQUIRE_SERVICES === '1') throw new Error(`${c.binary} is not installed and REQUIRE_SERVICES=1`);
    console.warn(`SKIPPED: ${c.binary} is not installed (set REQUIRE_SERVICES=1 to make this a failure)`);
  }
  describe.skipIf(!has(c.binary))(`${c.type} across a real broker restart`, () => {
    it('fails publishes while the broker is stopped, then publishes and delivers again from its stored state', async () => {
      const port = await freePort();
      const dir = tempDir('bulwark-broker-');
      let server = c.start(port, dir);
      await server.waitFor(c.ready);
      const entry = builtinComponents().lookup(c.type, 'v1')!;
      const ps = (await entry.factory({ name: 'p', type: c.type, version: 'v1', metadata: c.metadata(port), appId: 'restart-app', homeDir: '/nonexistent', cwd: '/', env: {}, logger: quiet })) as PubSub;
      const got: string[] = [];
      await ps.subscribe({ topic: 'orders', metadata: {} }, async (m: ReceivedMessage) => {
        got.push(m.data.toString());
      });
      await ps.publish({ topic: 'orders', data: Buffer.from('before'), metadata: {} });
      await eventually(() => got.includes('before'));

      await stopProcess(server);
      const err = await eventually(async () => {
        try {
          await ps.publish({ topic: 'orders', data: Buffer.from('while-down'), metadata: {} });
          return undefined;
        } catch (e) {
          return e as Error;
        }
      }, 20_000);
      expect(err.message).toMatch(/unreachable/);

      server = c.start(port, dir);
      await server.waitFor(c.ready);
      await eventually(async () => {
        await ps.publish({ topic: 'orders', data: Buffer.from('after'), metadata: {} });
        return true;
      }, 30_000, 250);
      await eventually(() => got.includes('after'), 30_000);
      await ps.close?.();
      await stopProcess(server);
    }, 120_000);
  });
}
