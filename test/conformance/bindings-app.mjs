// A recording app for the bindings and configuration suites. Every request (but /control/*)
// is recorded with method, path, headers and raw body. OPTIONS answers 200 on the paths in
// ROUTES (JSON env list) and 404 elsewhere. BEHAVIOR (env or POST /control/behavior) maps a
// path to {"status": n, "failTimes": n, "body": "text"}: the first failTimes POSTs answer 500.
// GET /control/received?path=/x lists what arrived; GET /control/probes lists the OPTIONS paths.
import { createServer } from 'node:http';

const port = Number(process.env.APP_PORT);
const routes = JSON.parse(process.env.ROUTES ?? '[]');
let behavior = JSON.parse(process.env.BEHAVIOR ?? '{}');
const received = [];
const probes = [];
const posts = new Map();

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/control/received') {
      const path = url.searchParams.get('path');
      const list = path ? received.filter((r) => r.path === path) : received;
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(list));
    }
    if (url.pathname === '/control/probes') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(probes));
    }
    if (url.pathname === '/control/behavior') {
      behavior = JSON.parse(raw);
      res.writeHead(200);
      return res.end();
    }
    if (req.method === 'OPTIONS') {
      probes.push(url.pathname);
      res.writeHead(routes.includes(url.pathname) ? 200 : 404);
      return res.end();
    }
    const b = behavior[url.pathname] ?? {};
    const n = (posts.get(url.pathname) ?? 0) + 1;
    posts.set(url.pathname, n);
    const status = n <= (b.failTimes ?? 0) ? 500 : (b.status ?? 200);
    received.push({ method: req.method, path: url.pathname, headers: req.headers, body: raw, status, at: Date.now() });
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(b.body ?? '');
  });
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
