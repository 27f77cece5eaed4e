// One machine: a row per hosting sidecar in BULWARK_HOME/placement/<namespace>/, alive while its
// process is (a SIGKILLed sidecar drops out at the next read, no lease to wait for).
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '../naming/local-registry.js';
import type { Member, MembershipStore } from './membership.js';

interface Row {
  member: Member;
  pid: number;
  version: number;
}

export class LocalMembership implements MembershipStore {
  readonly name = 'local';
  readonly leaseMs = 0;
  readonly refreshMs = 250;
  private readonly dir: string;
  private file: string | undefined;

  constructor(homeDir: string, namespace: string) {
    this.dir = join(homeDir, 'placement', encodeURIComponent(namespace));
  }

  async announce(self: Member): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    this.file = join(this.dir, `${encodeURIComponent(self.id)}.${process.pid}.json`);
    const row: Row = { member: self, pid: process.pid, version: Date.now() };
    writeFileSync(`${this.file}.tmp`, JSON.stringify(row));
    renameSync(`${this.file}.tmp`, this.file);
  }

  async list(): Promise<{ members: Member[]; version: number }> {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return { members: [], version: 0 };
    }
    const members: Member[] = [];
    let version = 0;
    for (const n of names) {
      if (!n.endsWith('.json')) continue;
      let row: Row;
      try {
        row = JSON.parse(readFileSync(join(this.dir, n), 'utf8')) as Row;
      } catch {
        continue;
      }
      if (!isAlive(row.pid)) {
        rmSync(join(this.dir, n), { force: true });
        continue;
      }
      members.push(row.member);
      version = Math.max(version, row.version);
    }
    return { members, version };
  }

  async withdraw(): Promise<void> {
    if (this.file) rmSync(this.file, { force: true });
    this.file = undefined;
  }

  async close(): Promise<void> {}
}
