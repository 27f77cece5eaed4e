// `bulwark list [-o table|json]`: the sidecars running on this machine, from the local registry.
import { readEntries, type RegistryEntry } from '../proxy/naming/local-registry.js';
import { parseArgs, UsageError } from './args.js';
import { bulwarkHome } from './options.js';

export function listMain(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  const { flags } = parseArgs(argv, { output: { type: 'string', short: 'o' } }, false);
  const format = (flags.output as string | undefined) ?? 'table';
  const entries = readEntries(bulwarkHome(env));
  if (format === 'json') {
    process.stdout.write(JSON.stringify(entries.map(toJson), null, 2) + '\n');
    return 0;
  }
  if (format !== 'table') throw new UsageError(`--output ${format}: expected table or json`);
  if (entries.length === 0) {
    process.stdout.write('No bulwark sidecars found.\n');
    return 0;
  }
  const head = ['APP ID', 'HTTP PORT', 'GRPC PORT', 'INTERNAL PORT', 'PUBLIC PORT', 'APP PORT', 'METRICS PORT', 'SIDECAR PID', 'CLI PID', 'APP PID', 'AGE', 'COMMAND', 'RUN FILE'];
  const rows = entries.map((e) => [
    e.appId, String(e.httpPort), String(e.grpcPort), String(e.internalPort), e.publicPort ? String(e.publicPort) : '', String(e.appPort ?? 0), String(e.metricsPort),
    String(e.pid), String(e.cliPid ?? ''), String(e.appPid ?? ''), age(Date.now() - e.startedAt), e.command ?? '', e.runFile ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows]) process.stdout.write(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd() + '\n');
  return 0;
}

function toJson(e: RegistryEntry): Record<string, unknown> {
  return {
    appId: e.appId,
    httpPort: e.httpPort,
    grpcPort: e.grpcPort,
    internalPort: e.internalPort,
    publicPort: e.publicPort ?? 0,
    appPort: e.appPort ?? 0,
    metricsPort: e.metricsPort,
    sidecarPid: e.pid,
    cliPid: e.cliPid ?? 0,
    appPid: e.appPid ?? 0,
    age: age(Date.now() - e.startedAt),
    created: new Date(e.startedAt).toISOString(),
    command: e.command ?? '',
    runFile: e.runFile ?? '',
  };
}

function age(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
