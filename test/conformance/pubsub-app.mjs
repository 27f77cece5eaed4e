// A subscriber app for the pub/sub conformance suite: answers GET /dapr/subscribe with
// SUBSCRIPTIONS (JSON, env), records every delivery, and answers each path as told
// (BEHAVIOR env or POST /control/behavior): {"<path>": {"status": 500} | {"body": {...}} |
// {"bulk": "SUCCESS"|"RETRY"|"DROP"} | {"delayMs": n} | {"failFirst": n, "status"?, "body"?}}
// (failFirst: answer status/body for an event's first n deliveries, then 200).
// GET /control/received lists deliveries.
import { createServer } from 'node:http';

const port = Number(process.env.APP_PORT);
const subscriptions = JSON.parse(process.env.SUBSCRIPTIONS ?? '[]');
let behavior = JSON.parse(process.env.BEHAVIOR ?? '{}');
const received = [];
const seenIds = new Map();

function send(res, status, body) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
  res.end(text);
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url, 'http://x');
    if (req.method === 'GET' && url.pathname === '/dapr/subscribe') return send(res, 200, subscriptions);
    if (url.pathname === '/control/received') {
      const path = url.searchParams.get('path');
      return send(res, 200, path ? received.filter((r) => r.path === path) : received);
    }
    if (url.pathname === '/control/behavior') {
      behavior = JSON.parse(raw);
      return send(res, 200, {});
    }
    // Only deliveries (POST) are recorded; the sidecar's own GETs (/dapr/config, ...) are not.
    if (req.method !== 'POST') return send(res, 404);
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      body = raw;
    }
    received.push({ path: url.pathname, headers: req.headers, body });
    const b = behavior[url.pathname] ?? {};
    const answer = () => {
      if (b.failFirst !== undefined) {
        const n = (seenIds.get(body.id) ?? 0) + 1;
        seenIds.set(body.id, n);
        if (n > b.failFirst) return send(res, 200, b.okBody);
      }
      if (b.bulk) {
        const statuses = (body.entries ?? []).map((e) => ({ entryId: e.entryId, status: b.bulk }));
        return send(res, 200, { statuses });
      }
      if (b.status) return send(res, b.status, b.body);
      if (b.body) return send(res, 200, b.body);
      if (body && Array.isArray(body.entries)) {
        return send(res, 200, { statuses: body.entries.map((e) => ({ entryId: e.entryId, status: 'SUCCESS' })) });
      }
      send(res, 200);
    };
    if (b.delayMs) setTimeout(answer, b.delayMs);
    else answer();
  });
});

server.listen(port, '127.0.0.1', () => console.log(`pubsub test app listening on ${server.address().port}`));
