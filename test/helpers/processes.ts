// Starts real bulwark processes (the compiled CLI in dist/) and real apps for tests, on free
// ports, with a temporary BULWARK_HOME; every process is registered for cleanup the moment it
// starts and ended by its PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(ROOT, 'dist/cli/main.js');

const started = new Set<ChildProcess>();
afterAll(async () => {
  await Promise.all([...started].map((p) => stopProcess(p)));
});

export function tempDir(prefix = 'bulwark-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes `files` (name -> text) into a new temporary folder and returns it. */
export function writeFolder(files: Record<string, string>, dir = tempDir()): string {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

export interface Proc {
  child: ChildProcess;
  pid: number;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves when `pattern` appears in the output (rejects after `ms`). */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startProcess(cmd: string, args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string } = {}): Proc {
  const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  let out = '';
  const waiters: Array<() => void> = [];
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const w of waiters.slice()) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => {
      started.delete(child);
      r({ code, signal });
      for (const w of waiters.slice()) w();
    }),
  );
  return {
    child,
    pid: child.pid!,
    output: () => out,
    exited,
    waitFor(pattern, ms = 20_000) {
      return new Promise((resolveWait, reject) => {
        const check = (): void => {
          const m = out.match(pattern);
          if (m) {
            waiters.splice(waiters.indexOf(check), 1);
            clearTimeout(timer);
            resolveWait(m);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            waiters.splice(waiters.indexOf(check), 1);
            clearTimeout(timer);
            reject(new Error(`process exited before ${pattern} appeared; output:\n${out}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`timed out waiting for ${pattern}; output:\n${out}`));
        }, ms);
        waiters.push(check);
        check();
      });
    },
  };
}

export async function stopProcess(p: ChildProcess | Proc, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const child = 'child' in p ? p.child : p;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(t);
}

export interface SidecarProc extends Proc {
  httpPort: number;
  url: string;
  home: string;
}

export interface SidecarStart {
  appId: string;
  /**
   * Resource YAML files (name -> text); written to a fresh folder passed as --resources-path.
   * Absent: an empty folder, so nothing is loaded. Set `embeddedDefaults` to use the defaults.
   */
  resources?: Record<string, string>;
  embeddedDefaults?: boolean;
  /** Extra CLI flags. */
  args?: string[];
  /** App command for `bulwark run`; absent runs `bulwark sidecar`. */
  app?: string[];
  env?: Record<string, string | undefined>;
  home?: string;
  cwd?: string;
}

/** Starts `bulwark run` (with an app) or `bulwark sidecar` and waits until its HTTP API listens. */
export async function startSidecar(s: SidecarStart): Promise<SidecarProc> {
  const home = s.home ?? tempDir('bulwark-home-');
  // Every port free by default (a later flag in `args` wins): gRPC's 50001 would collide between tests.
  const args = [CLI, s.app ? 'run' : 'sidecar', '--app-id', s.appId, '--dapr-http-port', '0', '--metrics-port', '0', '--dapr-grpc-port', '0'];
  if (!s.embeddedDefaults) args.push('--resources-path', writeFolder(s.resources ?? {}));
  args.push(...(s.args ?? []));
  if (s.app) args.push('--', ...s.app);
  const p = startProcess(process.execPath, args, { env: { BULWARK_HOME: home, ...s.env }, ...(s.cwd ? { cwd: s.cwd } : {}) });
  const m = await p.waitFor(/HTTP API listening on [^:\s]+:(\d+)/);
  const httpPort = Number(m[1]);
  return { ...p, httpPort, url: `http://127.0.0.1:${httpPort}`, home };
}

/** Polls `fn` until it returns a truthy value (for eventually-true conditions; no timing asserts). */
export async function eventually<T>(fn: () => Promise<T> | T, ms = 15_000, every = 50): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms}ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
