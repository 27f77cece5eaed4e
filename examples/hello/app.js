// A tiny app beside its bulwark sidecar: it serves one route, then calls the sidecar's Dapr
// API the way any Dapr app would (plain HTTP, no SDK) and exits. `npm run demo` runs it.
import { createServer } from 'node:http';

const sidecar = `http://127.0.0.1:${process.env.DAPR_HTTP_PORT}`;
const port = Number(process.env.APP_PORT);

let delivered;
const orderDelivered = new Promise((resolve) => (delivered = resolve));

const server = createServer((req, res) => {
  // The sidecar asks which topics the app subscribes to...
  if (req.url === '/dapr/subscribe') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify([{ pubsubname: 'pubsub', topic: 'orders', route: '/orders' }]));
    return;
  }
  // ...and delivers each message as a CloudEvent.
  if (req.url === '/orders') {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const event = JSON.parse(body);
      console.log(`delivered: ${JSON.stringify(event.data)} (CloudEvent ${event.id} from ${event.source}, topic ${event.topic})`);
      res.writeHead(200).end();
      delivered();
    });
    return;
  }
  if (req.url === '/hello') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ greeting: 'hello from the app', caller: req.headers['dapr-caller-app-id'] }));
    return;
  }
  res.writeHead(404).end();
});

async function call(method, path, body) {
  const res = await fetch(sidecar + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  console.log(`${method} ${path} -> ${res.status} ${text}`);
  return text;
}

server.listen(port, '127.0.0.1', async () => {
  // The sidecar answers before the app starts, so this works from the first line.
  const meta = JSON.parse(await call('GET', '/v1.0/metadata'));
  console.log(`components: ${meta.components.map((c) => `${c.name} (${c.type})`).join(', ') || 'none'}`);
  await call('POST', '/v1.0/state/statestore', [{ key: 'greeting', value: { text: 'hi', at: new Date().toISOString() } }]);
  await call('GET', '/v1.0/state/statestore/greeting');
  await call('POST', '/v1.0/invoke/hello/method/hello');
  await call('POST', '/v1.0/publish/pubsub/orders', { id: 1 });
  await orderDelivered;
  server.close();
});
