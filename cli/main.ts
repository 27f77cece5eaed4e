#!/usr/bin/env node
// The `bulwark` command.
import { ResourceError } from '../resources/resource-error.js';
import { RUNTIME_VERSION } from '../proxy/sidecar.js';
import { UsageError } from './args.js';
import { certMain } from './cert.js';
import { initMain } from './init.js';
import { listMain } from './list.js';
import { runMain } from './run.js';
import { sentryMain } from './sentry.js';
import { stopMain } from './stop.js';

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
      return runMain(rest, env, true);
    case 'sidecar':
      return runMain(rest, env, false);
    case 'list':
      return listMain(rest, env);
    case 'stop':
      return stopMain(rest, env);
    case 'init':
      return initMain(rest, env);
    case 'cert':
      return certMain(rest, env);
    case 'sentry':
      return sentryMain(rest, env);
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
