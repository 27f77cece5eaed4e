// Bodies stream through both sidecars with back-pressure: server-sent events arrive one by one,
// a 64 MB chunked upload keeps its hash, 160 MB uploads and downloads do not grow the sidecars'
// memory by the body's size, and WebSockets upgrade and echo through invocation and fronting.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startMember, type Member } from '../helpers/mesh.js';
import { tempDir } from '../helpers/processes.js';

const home = tempDir('bulwark-home-');
let a: Member;
let b: Member;
let publicPort: number;

beforeAll(async () => {
  a = await startMember('caller', home);
  b = await startMember('streamer', home, { args: ['--public-port', '0'] });
  publicPort = Number((await b.sidecar.waitFor(/public fronting on [^:\s]+:(\d+)/))[1]);
});

/** Peak resident memory of a process in bytes (VmHWM). */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** `total` deterministic pseudo-random bytes in 256 KiB chunks, pulled on demand. */
function generated(total: number, hash: ReturnType<typeof createHash>): Readable {
  let sent = 0;
  let seed = 12345;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const n = Math.min(256 * 1024, total - sent);
      const buf = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i += 4) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        buf.writeUInt32LE(seed, i);
      }
      hash.update(buf);
      sent += n;
      this.push(buf);
    },
  });
}

const MB = 1024 * 1024;

describe('streaming through two sidecars', () => {
  it('delivers server-sent events one at a time, before the stream ends', async () => {
    const res = await request(`${a.sidecar.url}/v1.0/invoke/streamer/method/sse?n=4`, { headers: { accept: 'text/event-stream' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    const events: string[] = [];
    let buffered = '';
    for await (const chunk of res.body) {
      buffered += chunk.toString();
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        events.push(buffered.slice(0, end));
        buffered = buffered.slice(end + 2);
        // The app sends the next event only after this acknowledgement, straight to the app:
        // had any sidecar held the stream back, we would never see this event.
        const ack = await request(`http://127.0.0.1:${b.app.port}/sse-ack`, { method: 'POST' });
        await ack.body.dump();
      }
    }
    expect(events).toEqual([0, 1, 2, 3].map((i) => `id: ${i}\ndata: event ${i}`));
  });

  it('passes a 64 MB chunked upload with its hash intact', async () => {
    const hash = createHash('sha256');
    const size = 64 * MB;
    const res = await request(`${a.sidecar.url}/v1.0/invoke/streamer/method/upload`, { method: 'POST', body: generated(size, hash), headers: { 'content-type': 'application/octet-stream' } });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ size, sha256: hash.digest('hex') });
  });

  // Garbage from streamed chunks may lift a peak by a few tens of MB before a collection; a
  // sidecar that held the body would grow by all of it. Hence a body well above that noise.
  it('keeps sidecar memory bounded while a 160 MB upload streams through', async () => {
    const before = [peakRss(a.sidecar.pid), peakRss(b.sidecar.pid)];
    const hash = createHash('sha256');
    const size = 160 * MB;
    const res = await request(`${a.sidecar.url}/v1.0/invoke/streamer/method/upload`, { method: 'POST', body: generated(size, hash) });
    expect(await res.body.json()).toEqual({ size, sha256: hash.digest('hex') });
    const after = [peakRss(a.sidecar.pid), peakRss(b.sidecar.pid)];
    expect(after[0]! - before[0]!).toBeLessThan(100 * MB);
    expect(after[1]! - before[1]!).toBeLessThan(100 * MB);
  });

  it('streams a 160 MB download back to a slow reader with bounded sidecar memory', async () => {
    const before = [peakRss(a.sidecar.pid), peakRss(b.sidecar.pid)];
    const res = await request(`${a.sidecar.url}/v1.0/invoke/streamer/method/download?size=${160 * MB}`);
    expect(res.headers['content-length']).toBe(String(160 * MB));
    let got = 0;
    let n = 0;
    for await (const chunk of res.body) {
      got += chunk.length;
      // Read slowly now and then, so back-pressure has to reach the app.
      if (++n % 64 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(got).toBe(160 * MB);
    const after = [peakRss(a.sidecar.pid), peakRss(b.sidecar.pid)];
    expect(after[0]! - before[0]!).toBeLessThan(100 * MB);
    expect(after[1]! - before[1]!).toBeLessThan(100 * MB);
  });
});

function echoOver(url: string, headers: Record<string, string> = {}): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const got: string[] = [];
    ws.on('error', reject);
    ws.on('message', (data, isBinary) => {
      got.push(isBinary ? `binary:${(data as Buffer).toString('hex')}` : data.toString());
      if (got.length === 1) ws.send('ping 1');
      else if (got.length === 2) ws.send(Buffer.from([1, 2, 3]), { binary: true });
      else ws.close();
    });
    ws.on('close', () => resolve(got));
  });
}

describe('WebSocket upgrades', () => {
  it('echo through invocation (path form)', async () => {
    const got = await echoOver(`ws://127.0.0.1:${a.sidecar.httpPort}/v1.0/invoke/streamer/method/chat?room=1`);
    expect(got).toEqual(['hello from streamer at /chat?room=1', 'echo: ping 1', 'binary:010203']);
  });

  it('echo through invocation (dapr-app-id header form)', async () => {
    const got = await echoOver(`ws://127.0.0.1:${a.sidecar.httpPort}/live`, { 'dapr-app-id': 'streamer' });
    expect(got).toEqual(['hello from streamer at /live', 'echo: ping 1', 'binary:010203']);
  });

  it('echo through the public fronting port', async () => {
    const got = await echoOver(`ws://127.0.0.1:${publicPort}/front`);
    expect(got).toEqual(['hello from streamer at /front', 'echo: ping 1', 'binary:010203']);
  });

  it('an upgrade to an unknown app id gets the Dapr error and a closed connection', async () => {
    const err = await echoOver(`ws://127.0.0.1:${a.sidecar.httpPort}/v1.0/invoke/nobody/method/chat`).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/Unexpected server response: 500/);
  });
});
