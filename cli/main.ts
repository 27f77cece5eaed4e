#!/usr/bin/env node
// The `bulwark` command. Each subcommand's module is imported when it runs, so `--help` and
// `version` start in tens of milliseconds and `list` does not load the sidecar.
import { ResourceError } from '../resources/resource-error.js';
import { RUNTIME_VERSION } from '../proxy/version.js';
import { UsageError } from './args.js';

const HELP = `bulwark ${RUNTIME_VERSION}: a Dapr-compatible sidecar

Usage:
  bulwark run [flags] -- <app command...>   run an app beside its sidecar
  bulwark run -f <dapr.yaml | folder>        run every app of a multi-app run file
  bulwark sidecar [flags]                    run the sidecar alone
  bulwark list [-o table|json]               list running sidecars
  bulwark stop --app-id <id> | -f <file>     stop apps
  bulwark init                               write default resources to BULWARK_HOME
  bulwark cert init [--dir D]                create (or import) the CA for mTLS
  bulwark cert issue --out P --dns localhost a certificate from that CA (HTTPS fronting, clients)
  bulwark sentry [--port P]                  the CA service sidecars get certificates from
  bulwark version

See README.md for every flag.
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const env = process.env;
  switch (cmd) {
    case 'run':
      return (await import('./run.js')).runMain(rest, env, true);
    case 'sidecar':
      return (await import('./run.js')).runMain(rest, env, false);
    case 'list':
      return (await import('./list.js')).listMain(rest, env);
    case 'stop':
      return (await import('./stop.js')).stopMain(rest, env);
    case 'init':
      return (await import('./init.js')).initMain(rest, env);
    case 'cert':
      return (await import('./cert.js')).certMain(rest, env);
    case 'sentry':
      return (await import('./sentry.js')).sentryMain(rest, env);
    case 'version':
    case '--version':
      process.stdout.write(`${RUNTIME_VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    default:
      throw new UsageError(`unknown command ${cmd}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError || err instanceof ResourceError) process.stderr.write(`❌  ${err.message}\n`);
    else if (err instanceof Error && /port is already in use|--[a-z-]+ \d+:/.test(err.message)) process.stderr.write(`❌  ${err.message}\n`);
    else process.stderr.write(`❌  ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
