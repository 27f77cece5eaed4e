// One hop of the floor of loadtest/mtls.ts (`--floor`): what Node's TLS costs a two-hop proxy
// chain that does nothing else. Not a sidecar and not used by one.
//
// A node:http server (or node:https requiring a client certificate) that forwards each request
// to --upstream over an undici keep-alive pool (plaintext, or TLS with a client certificate),
// reads the whole answer and writes it back with its status. No API, headers policy, tracing,
// metrics or resiliency: the plaintext and the TLS chains differ only in TLS. Credentials come
// in environment variables (PEM). Started by loadtest/mtls.ts; prints the line it waits for.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (!v) throw new Error(`mtls-floor: --${name} is required`);
  return v;
}

const env = process.env;
const tlsIn = process.argv.includes('--tls-in');
const tlsOut = process.argv.includes('--tls-out');
const creds = { ca: env.FLOOR_CA!, cert: env.FLOOR_CERT!, key: env.FLOOR_KEY! };
const pool = new Pool(arg('upstream'), {
  connections: 128,
  pipelining: 1,
  keepAliveTimeout: 30_000,
  ...(tlsOut ? { connect: { ...creds, checkServerIdentity: () => undefined } } : {}),
});

function handle(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  pool.request({ method: 'GET', path: req.url ?? '/' }).then(
    async (answer) => {
      const body = Buffer.from(await answer.body.arrayBuffer());
      res.writeHead(answer.statusCode, { 'content-length': body.length });
      res.end(body);
    },
    (err: Error) => {
      res.statusCode = 502;
      res.end(err.message);
    },
  );
}

const server = tlsIn ? createHttpsServer({ ...creds, requestCert: true, rejectUnauthorized: true }, handle) : createHttpServer(handle);
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => console.log(`FLOOR-PORT ${(server.address() as AddressInfo).port}`));
