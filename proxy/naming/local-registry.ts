// The self-hosted registry under BULWARK_HOME/registry: one JSON file per running sidecar (app
// id, ports, pids, command). `bulwark list` and `bulwark stop` read it, and name resolution
// finds peers in it. Entries whose sidecar process is gone are ignored and cleaned up.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

export interface RegistryEntry {
  appId: string;
  pid: number;
  host: string;
  httpPort: number;
  grpcPort: number;
  internalPort: number;
  metricsPort: number;
  publicPort?: number;
  appPort?: number;
  namespace?: string;
  cliPid?: number;
  appPid?: number;
  command?: string;
  runFile?: string;
  /** Milliseconds since the epoch. */
  startedAt: number;
}

export function registryDir(homeDir: string): string {
  return join(homeDir, 'registry');
}

function fileName(e: Pick<RegistryEntry, 'appId' | 'pid' | 'httpPort'>): string {
  return `${encodeURIComponent(e.appId)}.${e.pid}.${e.httpPort}.json`;
}

export function writeEntry(homeDir: string, entry: RegistryEntry): string {
  const dir = registryDir(homeDir);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, fileName(entry));
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(entry));
  renameSync(tmp, file);
  return file;
}

export function removeEntry(file: string): void {
  rmSync(file, { force: true });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Live entries; files of dead sidecars are removed on the way. */
export function readEntries(homeDir: string): RegistryEntry[] {
  const dir = registryDir(homeDir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: RegistryEntry[] = [];
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    const file = join(dir, name);
    let entry: RegistryEntry;
    try {
      entry = JSON.parse(readFileSync(file, 'utf8')) as RegistryEntry;
    } catch {
      continue; // being written or corrupt
    }
    if (!isAlive(entry.pid)) {
      rmSync(file, { force: true });
      continue;
    }
    out.push(entry);
  }
  return out.sort((a, b) => a.startedAt - b.startedAt);
}
