// Starts one app beside its sidecar, the way `dapr run` does: the sidecar first (its API
// answers before the app's first line runs), then the app with DAPR_HTTP_PORT, DAPR_GRPC_PORT,
// APP_ID, APP_PORT... in its environment and its output prefixed. On stop the sidecar drains
// in-flight requests first, then the app gets the signal, so a slow call through the sidecar
// finishes even if the app exits at once on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import type { SidecarOptions } from '../proxy/options.js';
import { Sidecar } from '../proxy/sidecar.js';

export interface LaunchSpec {
  options: SidecarOptions;
  /** The app command; empty runs the sidecar alone. */
  command: readonly string[];
  /** Working directory of the app. */
  cwd: string;
  /** Extra environment for the app (run file `env`). */
  env?: Record<string, string>;
  /** Where prefixed app output goes (console and/or a log file). */
  appOutput: Writable[];
  /** Prefix of each app output line, e.g. "== APP == ". */
  prefix: string;
}

export interface Launched {
  sidecar: Sidecar;
  child: ChildProcess | undefined;
  /** Resolves with the code the CLI should exit with for this app. */
  done: Promise<number>;
  stop(signal: NodeJS.Signals): Promise<void>;
}

export async function launch(spec: LaunchSpec): Promise<Launched> {
  // node:readline (about 10 ms to load) only splits an app's output: not loaded for `bulwark sidecar`.
  const readline = spec.command.length > 0 ? import('node:readline') : undefined;
  const sidecar = await Sidecar.start(spec.options);
  const o = spec.options;
  let child: ChildProcess | undefined;
  let stopping = false;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));

  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    // The app is signalled once the sidecar has drained, or after the graceful timeout if a
    // component's close hangs: the app must never outlive a CLI that gets killed while waiting.
    await Promise.race([sidecar.shutdown(), new Promise<void>((r) => setTimeout(r, o.gracefulShutdownMs + 1000).unref())]);
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      const killer = setTimeout(() => child?.kill('SIGKILL'), Math.max(o.gracefulShutdownMs, 1000) + 5000);
      killer.unref();
      child.once('exit', () => clearTimeout(killer));
    } else if (!child) {
      resolveDone(0);
    }
  };
  sidecar.onShutdown((code) => {
    void stop('SIGTERM').then(() => {
      if (!child) resolveDone(code);
    });
  });

  if (spec.command.length > 0) {
    const env: Record<string, string> = {
      ...(o.env as Record<string, string>),
      ...(spec.env ?? {}),
      APP_ID: o.appId,
      DAPR_HTTP_PORT: String(sidecar.ports.http),
      DAPR_GRPC_PORT: String(sidecar.ports.grpc),
      APP_PROTOCOL: o.appProtocol,
    };
    if (sidecar.ports.metrics) env.DAPR_METRICS_PORT = String(sidecar.ports.metrics);
    if (o.appPort) env.APP_PORT = String(o.appPort);
    if (o.appChannelAddress !== '127.0.0.1') env.APP_CHANNEL_ADDRESS = o.appChannelAddress;
    if (o.apiToken) env.DAPR_API_TOKEN = o.apiToken;
    const [cmd, ...args] = spec.command;
    const { createInterface } = await readline!;
    child = spawn(cmd!, args, { cwd: spec.cwd, env, stdio: ['inherit', 'pipe', 'pipe'] });
    pipeLines(createInterface, child.stdout!, spec.prefix, spec.appOutput);
    pipeLines(createInterface, child.stderr!, spec.prefix, spec.appOutput);
    child.once('error', (err) => {
      for (const out of spec.appOutput) out.write(`${spec.prefix}failed to start ${cmd}: ${err.message}\n`);
    });
    if (child.pid) {
      sidecar.setExtended('appPID', String(child.pid));
      sidecar.setExtended('appCommand', spec.command.join(' '));
    }
    child.once('close', (code, signal) => {
      void (async () => {
        if (!stopping) {
          stopping = true;
          sidecar.logger.info(`app exited with ${code !== null ? `code ${code}` : `signal ${signal}`}; stopping the sidecar`);
          await sidecar.shutdown();
        }
        // An app ended by the signal we forwarded stopped cleanly.
        resolveDone(code ?? (signal === 'SIGTERM' || signal === 'SIGINT' ? 0 : 1));
      })();
    });
  }
  return { sidecar, child, done, stop };
}

function pipeLines(createInterface: typeof import('node:readline').createInterface, stream: NodeJS.ReadableStream, prefix: string, outs: Writable[]): void {
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  rl.on('line', (line) => {
    for (const out of outs) out.write(`${prefix}${line}\n`);
  });
}
