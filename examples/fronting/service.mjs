// An ordinary HTTP service with no Dapr code at all: an inventory of items. Fronted by a
// bulwark sidecar on --public-port, clients that know nothing of Dapr reach it through the
// sidecar's inbound pipeline (policies, tracing, metrics, access control).
//
//   bulwark run --app-id inventory --app-port 7001 --public-port 8080 -- node examples/fronting/service.mjs
//   curl http://127.0.0.1:8080/items
import { createServer } from 'node:http';

const items = new Map([['1', { id: '1', name: 'bolt', stock: 40 }]]);

createServer(async (req, res) => {
  const url = new URL(req.url, 'http://inventory');
  const send = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method === 'GET' && url.pathname === '/items') return send(200, [...items.values()]);
  if (req.method === 'POST' && url.pathname === '/items') {
    let text = '';
    for await (const chunk of req) text += chunk;
    const item = { id: String(items.size + 1), ...JSON.parse(text) };
    items.set(item.id, item);
    return send(201, item);
  }
  const m = /^\/items\/([^/]+)$/.exec(url.pathname);
  if (req.method === 'GET' && m) return items.has(m[1]) ? send(200, items.get(m[1])) : send(404, { error: `no item ${m[1]}` });
  send(404, { error: 'not found' });
}).listen(Number(process.env.APP_PORT ?? 7001), '127.0.0.1', () => console.log('inventory service ready'));
