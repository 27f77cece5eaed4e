// Reference one-hop proxy on node `http-proxy` (keep-alive agent), for the loadtest table.
//   node dist/loadtest/http-proxy-ref.js <listen-port> <target-origin>
import { createServer, Agent } from 'node:http';
import httpProxy from 'http-proxy';

const port = Number(process.argv[2]);
const target = process.argv[3]!;
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const proxy = httpProxy.createProxyServer({ target, agent });
proxy.on('error', (_err, _req, res) => {
  const r = res as import('node:http').ServerResponse;
  if (!r.headersSent) r.writeHead(502);
  r.end();
});
createServer((req, res) => proxy.web(req, res)).listen(port, '127.0.0.1', () => console.log(`http-proxy listening on ${port}`));
