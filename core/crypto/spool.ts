// Holds a response until it is complete, so a failure half-way still gets Dapr's error status
// and never a 200 with partial output. Up to `memoryBytes` stays in memory; beyond that it goes
// to a temporary file that is removed once sent, so memory stays bounded for any size.
import { createReadStream, createWriteStream, mkdirSync, rmSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Writable, type Readable } from 'node:stream';
import { once } from 'node:events';

export class Spool extends Writable {
  private chunks: Buffer[] = [];
  private size = 0;
  private file: WriteStream | undefined;
  private path: string | undefined;

  constructor(
    private readonly dir: string,
    private readonly memoryBytes = 1 << 20,
  ) {
    super({ highWaterMark: 256 * 1024 });
  }

  get length(): number {
    return this.size;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.size += chunk.length;
    if (!this.file && this.size <= this.memoryBytes) {
      this.chunks.push(chunk);
      return cb();
    }
    if (!this.file) {
      mkdirSync(this.dir, { recursive: true });
      this.path = join(this.dir, `spool-${randomUUID()}`);
      this.file = createWriteStream(this.path, { mode: 0o600 });
      for (const c of this.chunks) this.file.write(c);
      this.chunks = [];
    }
    if (this.file.write(chunk)) cb();
    else this.file.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.file) return cb();
    this.file.end(() => cb());
  }

  /** The spooled bytes: a Buffer when they fitted in memory, else a stream that removes the file at its end. */
  result(): Buffer | Readable {
    if (!this.path) return Buffer.concat(this.chunks, this.size);
    const path = this.path;
    const r = createReadStream(path, { highWaterMark: 256 * 1024 });
    r.once('close', () => rmSync(path, { force: true }));
    return r;
  }

  /** Drops whatever was written (after a failure). */
  async discard(): Promise<void> {
    this.chunks = [];
    if (this.file) {
      if (!this.file.closed) {
        this.file.end();
        await once(this.file, 'close').catch(() => undefined);
      }
      rmSync(this.path!, { force: true });
    }
  }
}
