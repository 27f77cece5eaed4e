// A real Prometheus server for tests (Debian package `prometheus`): started on a free loopback
// port with a generated config (scrape interval 1s) and a temporary storage folder, queried
// through its HTTP API. Without the binary a suite skips with a visible reason, or fails under
// REQUIRE_SERVICES=1 (as .ci/run sets).
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { freePort } from '../../cli/free-port.js';
import { startProcess, tempDir, writeFolder, type Proc } from './processes.js';

export function prometheusBinary(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat(['/usr/bin', '/usr/local/bin'])) {
    const file = join(dir, 'prometheus');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** True when the binary is installed; otherwise skip (or throw under REQUIRE_SERVICES=1). */
export function prometheusAvailable(): boolean {
  if (prometheusBinary()) return true;
  const msg = 'the prometheus binary is not installed (Debian package: prometheus)';
  if (process.env.REQUIRE_SERVICES === '1') throw new Error(`${msg} and REQUIRE_SERVICES=1`);
  console.warn(`SKIPPED: ${msg} (set REQUIRE_SERVICES=1 to make this a failure)`);
  return false;
}

export interface Prometheus {
  proc: Proc;
  url: string;
  /** Runs an instant query; returns the result vector. */
  query(q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
}

export async function startPrometheus(targets: string[]): Promise<Prometheus> {
  const port = await freePort();
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: bulwark',
    '    scrape_interval: 1s',
    '    static_configs:',
    `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
    '',
  ].join('\n');
  const dir = writeFolder({ 'prometheus.yml': config });
  const proc = startProcess(prometheusBinary()!, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${tempDir('prometheus-data-')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ]);
  await proc.waitFor(/Server is ready to receive web requests/, 60_000);
  const url = `http://127.0.0.1:${port}`;
  return {
    proc,
    url,
    async query(q) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(q)}`);
      const body = (await res.json()) as { status: string; data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> }; error?: string };
      if (body.status !== 'success') throw new Error(`prometheus query ${q} failed: ${body.error ?? res.status}`);
      return body.data!.result;
    },
  };
}
