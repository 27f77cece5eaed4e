// An ordinary service with no Dapr code: it calls http://greeter/hello by name. Started with
// HTTP_PROXY pointing at its sidecar's HTTP port, the request goes through the sidecars to the
// app whose id is `greeter`; nothing in this file knows about Dapr.
//
//   HTTP_PROXY=http://127.0.0.1:3500 bulwark run --app-id client --app-port 7003 \
//     --dapr-http-port 3500 -- node examples/forward-proxy/client.mjs
//   curl 'http://127.0.0.1:7003/relay?name=ada'
import { createServer, request } from 'node:http';

/** GET through HTTP_PROXY when it is set, as curl, Python requests or Go's net/http do. */
function get(target) {
  const url = new URL(target);
  const proxy = process.env.HTTP_PROXY || process.env.http_proxy;
  const via = proxy ? new URL(proxy) : undefined;
  const opts = via
    ? { host: via.hostname, port: Number(via.port || 80), path: url.href, headers: { host: url.host } }
    : { host: url.hostname, port: Number(url.port || 80), path: url.pathname + url.search };
  return new Promise((resolve, reject) => {
    const req = request(opts, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

createServer(async (req, res) => {
  const name = new URL(req.url, 'http://client').searchParams.get('name') ?? 'world';
  try {
    const answer = await get(`http://greeter/hello?name=${encodeURIComponent(name)}`);
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.text);
  } catch (err) {
    res.writeHead(502, { 'content-type': 'text/plain' }).end(String(err));
  }
}).listen(Number(process.env.APP_PORT ?? 7003), '127.0.0.1', () => console.log('client ready'));
