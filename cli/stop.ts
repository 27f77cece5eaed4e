// `bulwark stop --app-id X [...]` and `bulwark stop -f <run file>`. A CLI that runs only the
// app is sent SIGTERM (it drains the sidecar and stops the app); an app inside a multi-app
// run is stopped through its sidecar's shutdown API. Waits until the sidecars are gone.
import { readEntries, isAlive, type RegistryEntry } from '../proxy/naming/local-registry.js';
import { parseArgs, UsageError } from './args.js';
import { bulwarkHome } from './options.js';
import { resolveRunFilePath } from './run-file.js';

export async function stopMain(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { flags, command } = parseArgs(argv, { 'app-id': { type: 'string', short: 'a', multiple: true }, 'run-file': { type: 'string', short: 'f' } }, true);
  const home = bulwarkHome(env);
  const entries = readEntries(home);
  let targets: RegistryEntry[];
  if (flags['run-file']) {
    const path = resolveRunFilePath(String(flags['run-file']), process.cwd());
    targets = entries.filter((e) => e.runFile === path);
    if (targets.length === 0) throw new UsageError(`no running apps were started from ${path}`);
    for (const pid of new Set(targets.map((e) => e.cliPid ?? e.pid))) signal(pid);
  } else {
    const ids = [...((flags['app-id'] as string[] | undefined) ?? []), ...command];
    if (ids.length === 0) throw new UsageError('give --app-id <id> or --run-file <file>');
    targets = [];
    for (const id of ids) {
      const found = entries.filter((e) => e.appId === id);
      if (found.length === 0) throw new UsageError(`no running app with id ${id}`);
      targets.push(...found);
    }
    for (const e of targets) {
      const sharesCli = e.cliPid !== undefined && entries.some((o) => o !== e && o.cliPid === e.cliPid);
      if (e.cliPid !== undefined && !sharesCli) signal(e.cliPid);
      else if (e.cliPid === undefined) signal(e.pid);
      else await shutdownViaApi(e, env.DAPR_API_TOKEN);
    }
  }
  const deadline = Date.now() + 30_000;
  while (targets.some((t) => isAlive(t.pid) && stillRegistered(home, t)) && Date.now() < deadline) await sleep(100);
  for (const t of targets) process.stdout.write(`✅  app stopped successfully: ${t.appId}\n`);
  return 0;
}

function stillRegistered(home: string, t: RegistryEntry): boolean {
  return readEntries(home).some((e) => e.pid === t.pid && e.httpPort === t.httpPort);
}

function signal(pid: number): void {
  try {
    process.kill(pid, 'SIGTERM');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function shutdownViaApi(e: RegistryEntry, token: string | undefined): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${e.httpPort}/v1.0/shutdown`, { method: 'POST', headers: token ? { 'dapr-api-token': token } : {} });
  if (res.status !== 204) throw new UsageError(`app ${e.appId}: the sidecar refused to shut down (HTTP ${res.status})`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
