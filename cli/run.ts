// `bulwark run`: one app beside its sidecar (or a run file with -f), and `bulwark sidecar`:
// the sidecar alone, to front a service that runs elsewhere.
import { parseArgs, UsageError } from './args.js';
import { freePort } from './free-port.js';
import { launch, type Launched } from './launch.js';
import { IGNORED_FLAGS, SIDECAR_FLAGS, buildSidecarOptions } from './options.js';
import { runFileMain } from './run-file.js';

export async function runMain(argv: readonly string[], env: NodeJS.ProcessEnv, withApp: boolean): Promise<number> {
  const fileFlag = withApp ? argv.findIndex((a) => a === '-f' || a === '--run-file' || a.startsWith('--run-file=')) : -1;
  if (fileFlag >= 0) {
    const a = argv[fileFlag]!;
    const file = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[fileFlag + 1];
    if (!file) throw new UsageError(`${a} needs a file or folder`);
    return runFileMain(file, env);
  }
  const parsed = parseArgs(argv, SIDECAR_FLAGS, withApp);
  const flags = { ...parsed.flags };
  // `--app-port 0` (a bulwark extension): pick a free port and hand it to the app as APP_PORT.
  if (flags['app-port'] === 0 && parsed.command.length > 0) flags['app-port'] = await freePort();
  const options = buildSidecarOptions({ flags, env, cwd: process.cwd(), extended: withApp ? { cliPID: String(process.pid) } : {} });
  const launched = await launch({ options, command: parsed.command, cwd: process.cwd(), appOutput: [process.stdout], prefix: '== APP == ' });
  for (const name of parsed.given) if (IGNORED_FLAGS[name]) launched.sidecar.logger.info(`--${name} is accepted and ignored: ${IGNORED_FLAGS[name]}`);
  forwardSignals([launched]);
  return launched.done;
}

export function forwardSignals(apps: readonly Launched[]): void {
  let count = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    // A second signal gives up on graceful shutdown.
    if (++count > 1) process.exit(1);
    for (const a of apps) void a.stop(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
