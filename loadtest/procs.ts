// Processes for the load test: spawn and wait, CPU time and RSS from /proc, free ports, sidecars
// found through their registry entry, and a stop by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readEntries, type RegistryEntry } from '../proxy/naming/local-registry.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(ROOT, 'dist/cli/main.js');

/** The Redis state store every benchmark sidecar loads (component `statestore`). */
export const REDIS_STATESTORE_YAML = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.redis
  version: v1
  metadata:
  - name: redisHost
    value: "127.0.0.1:6379"
`;

export interface Running {
  name: string;
  child: ChildProcess;
  out: string;
}

const running = new Set<Running>();

export function start(name: string, cmd: string, args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const r: Running = { name, child, out: '' };
  const keep = (d: Buffer): void => {
    r.out += d.toString();
    if (r.out.length > 200_000) r.out = r.out.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  running.add(r);
  child.once('exit', () => running.delete(r));
  return r;
}

export async function waitFor(r: Running, re: RegExp, ms = 60_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = r.out.match(re);
    if (m) return m;
    if (r.child.exitCode !== null) throw new Error(`${r.name} exited:\n${r.out}`);
    if (Date.now() > deadline) throw new Error(`${r.name}: timed out waiting for ${re}:\n${r.out}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

export async function waitEntry(home: string, appId: string, r: Running, ms = 60_000): Promise<RegistryEntry> {
  const deadline = Date.now() + ms;
  for (;;) {
    const e = readEntries(home).find((x) => x.appId === appId && x.pid === r.child.pid);
    if (e) return e;
    if (r.child.exitCode !== null || Date.now() > deadline) throw new Error(`${r.name} did not start:\n${r.out}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

/** Stops one process by PID and waits for it to exit. */
export async function stop(r: Running): Promise<void> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return;
  const gone = new Promise<void>((res) => r.child.once('exit', () => res()));
  r.child.kill('SIGTERM');
  const t = setTimeout(() => r.child.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(t);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map(stop));
}

/** User and system CPU seconds of a process (fields 14 and 15 of /proc/<pid>/stat, 100 ticks/s). */
export function cpuTimes(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / 100, sys: Number(fields[12]) / 100 };
}

/** User + system CPU seconds of a process. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.sys;
}

/**
 * Starts measuring the machine's CPU time stolen by the hypervisor (the `steal` column of
 * /proc/stat); the function returned tells its share of all CPU time since then. On a shared
 * virtual machine a run with a few percent of steal is not comparable with a quiet one.
 */
export function stealMeter(): () => string {
  const read = (): { steal: number; total: number } => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { steal: f[7] ?? 0, total: f.slice(0, 8).reduce((a, b) => a + b, 0) };
  };
  let t0: { steal: number; total: number };
  try {
    t0 = read();
  } catch {
    return () => 'steal unknown (no /proc/stat)';
  }
  return () => {
    const t1 = read();
    const share = (t1.steal - t0.steal) / Math.max(1, t1.total - t0.total);
    return `host steal ${(share * 100).toFixed(1)}% of CPU time during the run`;
  };
}

/** Resident set size in MB (VmRSS from /proc/<pid>/status). */
export function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

