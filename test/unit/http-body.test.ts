// Exchange.body() on a real node:http server and real sockets: whole bodies however they are
// chunked, the size limit while reading, and a client that goes away mid-body.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DaprError } from '../../core/errors.js';
import { Exchange } from '../../core/http.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); })));
});

/** A server whose every request's body() outcome is handed to `seen`; answers 200 or the error's status. */
async function serve(limit: number, seen: (outcome: Buffer | Error, ex: Exchange) => void): Promise<number> {
  const server = createServer((req, res) => {
    const ex = new Exchange(req, res, limit);
    ex.body().then(
      (b) => {
        seen(b, ex);
        res.writeHead(200).end();
      },
      (err: Error) => {
        seen(err, ex);
        if (!res.destroyed) res.writeHead(err instanceof DaprError ? err.status : 500).end();
      },
    );
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as AddressInfo).port;
}

function post(port: number, chunks: string[], opts: { end?: boolean; pauseMs?: number } = {}): Promise<{ status?: number; error?: Error }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode }));
    });
    req.on('error', (error) => resolve({ error }));
    let i = 0;
    const next = (): void => {
      if (i < chunks.length) {
        req.write(chunks[i++]);
        setTimeout(next, opts.pauseMs ?? 5);
      } else if (opts.end === false) {
        req.destroy();
      } else {
        req.end();
      }
    };
    next();
  });
}

describe('Exchange.body', () => {
  it('returns a chunked body whole, and an empty body as zero bytes', async () => {
    const got: Array<Buffer | Error> = [];
    const port = await serve(1024, (o) => got.push(o));
    expect((await post(port, ['ab', 'cd', 'ef'])).status).toBe(200);
    expect((await post(port, [])).status).toBe(200);
    expect(got.map((o) => (o instanceof Buffer ? o.toString() : o.message))).toEqual(['abcdef', '']);
  });

  it('refuses a chunked body that grows past the limit with Dapr 413 and stops reading it', async () => {
    const got: Array<Buffer | Error> = [];
    const port = await serve(8, (o) => got.push(o));
    const answer = await post(port, ['12345', '67890', 'more', 'more']);
    expect(got).toHaveLength(1);
    expect(got[0]).toBeInstanceOf(DaprError);
    expect((got[0] as DaprError).status).toBe(413);
    // The request is destroyed as the iterator it replaced did: the client sees a reset or no answer.
    expect(answer.status === undefined || answer.status === 413).toBe(true);
  });

  it('rejects, rather than waiting forever, when the client goes away mid-body', async () => {
    let settle!: (o: Buffer | Error) => void;
    const outcome = new Promise<Buffer | Error>((r) => (settle = r));
    const port = await serve(1024, (o) => settle(o));
    await post(port, ['part'], { end: false });
    const o = await outcome;
    expect(o).toBeInstanceOf(Error);
  });

  it('answers an already-read body as empty', async () => {
    let second: Promise<Buffer> | undefined;
    const port = await serve(1024, (o, ex) => {
      if (o instanceof Buffer) second = ex.body();
    });
    expect((await post(port, ['x'])).status).toBe(200);
    expect((await second)?.length).toBe(0);
  });
});
