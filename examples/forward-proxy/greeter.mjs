// An ordinary HTTP service with no Dapr code: it greets whoever calls.
//
//   bulwark run --app-id greeter --app-port 7002 -- node examples/forward-proxy/greeter.mjs
import { createServer } from 'node:http';

createServer((req, res) => {
  const name = new URL(req.url, 'http://greeter').searchParams.get('name') ?? 'stranger';
  res.writeHead(200, { 'content-type': 'application/json' });
  // dapr-caller-app-id is set by the sidecars; a plain service may simply ignore it.
  res.end(JSON.stringify({ greeting: `hello, ${name}`, path: req.url, caller: req.headers['dapr-caller-app-id'] ?? null }));
}).listen(Number(process.env.APP_PORT ?? 7002), '127.0.0.1', () => console.log('greeter ready'));
