// The floor row of loadtest/pubsub.ts (`--floor`): the least a sidecar pair with two HTTP
// exchanges per message can do, as two bare Node processes. Not a sidecar and not used by one.
//
//   pub: a node:http server that takes POST /v1.0/publish/<pubsub>/<topic>, wraps the body as
//        {"data":<body>} (no other CloudEvent field), publishes it with the same broker
//        component the direct row uses, and answers 204.
//   sub: subscribes with that component and POSTs each message to the app's /in over an undici
//        keep-alive pool (its dispatch interface, no body stream); the message is acknowledged
//        when the app answered 2xx.
//
// No tracing, metrics, resiliency policies, routing, scopes, API token or error bodies: whatever
// the real sidecars spend above these two processes is the price of those features (and of
// their implementation). Started by loadtest/pubsub.ts; prints the line the harness waits for.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import type { ComponentContext, Logger } from '../core/component.js';
import type { PubSub } from '../core/pubsub/component.js';
import { createRedisPubSub } from '../components/pubsub/redis.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (!v) throw new Error(`pubsub-floor: --${name} is required`);
  return v;
}

async function broker(appId: string): Promise<PubSub> {
  const ctx: ComponentContext = { name: 'pubsub', type: 'pubsub.redis', version: 'v1', metadata: { redisHost: arg('redis-host') }, appId, homeDir: '.', cwd: '.', env: {}, logger: quiet };
  return createRedisPubSub(ctx);
}

const PREFIX = '/v1.0/publish/';
const OPEN = Buffer.from('{"data":');
const CLOSE = Buffer.from('}');

async function publisher(): Promise<void> {
  const ps = await broker('bench-floor-pub');
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    if (req.method !== 'POST' || !url.startsWith(PREFIX)) {
      req.resume();
      res.writeHead(url.startsWith('/v1.0/metadata') ? 200 : 404).end('{}');
      return;
    }
    const slash = url.indexOf('/', PREFIX.length);
    const topic = url.slice(slash + 1);
    const chunks: Buffer[] = [OPEN];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      chunks.push(CLOSE);
      ps.publish({ topic, data: Buffer.concat(chunks), metadata: {} }).then(
        () => res.writeHead(204).end(),
        () => res.writeHead(500).end(),
      );
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => console.log(`HTTP API listening on 127.0.0.1:${(server.address() as AddressInfo).port}`));
}

/** The app's answer on undici's dispatch interface (no body stream): 2xx resolves. */
class Answer implements Dispatcher.DispatchHandler {
  private status = 0;
  constructor(
    private readonly resolve: () => void,
    private readonly reject: (err: Error) => void,
  ) {}
  onConnect(): void {}
  onHeaders(status: number): boolean {
    this.status = status;
    return true;
  }
  onData(): boolean {
    return true;
  }
  onComplete(): void {
    if (this.status >= 200 && this.status <= 299) this.resolve();
    else this.reject(new Error(`app answered ${this.status}`));
  }
  onError(err: Error): void {
    this.reject(err);
  }
}

async function subscriber(): Promise<void> {
  const ps = await broker('bench-floor-sub');
  const origin = `http://127.0.0.1:${arg('app-port')}`;
  const app = new Pool(origin, { connections: 128, keepAliveTimeout: 30_000 });
  const headers = { 'content-type': 'application/cloudevents+json' };
  await ps.subscribe({ topic: arg('topic'), metadata: {} }, (msg) =>
    new Promise<void>((resolve, reject) => {
      app.dispatch({ origin, method: 'POST', path: '/in', headers, body: msg.data }, new Answer(resolve, reject));
    }),
  );
  // The harness polls GET /v1.0/metadata until a subscription shows; this one is already live.
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"subscriptions":[{}]}');
  });
  server.listen(0, '127.0.0.1', () => console.log(`HTTP API listening on 127.0.0.1:${(server.address() as AddressInfo).port}`));
}

// A clean exit, so that --cpu-prof writes its profile.
process.once('SIGTERM', () => process.exit(0));
const role = process.argv[2];
if (role === 'pub') await publisher();
else if (role === 'sub') await subscriber();
else throw new Error('usage: pubsub-floor.js pub|sub --redis-host H:P [--app-port N --topic T]');
