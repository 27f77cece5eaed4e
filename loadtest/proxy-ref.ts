// Reference one-hop proxies for the loadtest tables, each what a few lines of Node give:
//   node dist/loadtest/proxy-ref.js http-proxy <listen-port> <target-origin>
//     node `http-proxy` with a keep-alive agent;
//   node dist/loadtest/proxy-ref.js undici <listen-port> <target-origin>
//     the bare undici proxy the speed goals name: a node:http server, one undici Pool, the
//     answer's body piped back. No header filtering, no errors beyond a 502.
import { createServer, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import httpProxy from 'http-proxy';
import { Pool } from 'undici';

const [kind, portArg, target] = process.argv.slice(2) as [string, string, string];

function httpProxyHandler(): (req: IncomingMessage, res: ServerResponse) => void {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const proxy = httpProxy.createProxyServer({ target, agent });
  proxy.on('error', (_err, _req, res) => fail(res as ServerResponse));
  return (req, res) => proxy.web(req, res);
}

function undiciHandler(): (req: IncomingMessage, res: ServerResponse) => void {
  const pool = new Pool(target, { connections: 128 });
  return (req, res) => {
    const body = req.method === 'GET' || req.method === 'HEAD' ? null : req;
    pool.request({ method: req.method as 'GET', path: req.url!, headers: req.headers, body }).then(
      (up) => {
        res.writeHead(up.statusCode, up.headers as Record<string, string>);
        up.body.pipe(res);
      },
      () => fail(res),
    );
  };
}

function fail(res: ServerResponse): void {
  if (!res.headersSent) res.writeHead(502);
  res.end();
}

const handler = kind === 'undici' ? undiciHandler() : httpProxyHandler();
createServer(handler).listen(Number(portArg), '127.0.0.1', () => console.log(`${kind} proxy listening on ${portArg}`));
