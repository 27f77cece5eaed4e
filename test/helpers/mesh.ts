// Apps and sidecars for the service-invocation suites: the plain fixture app
// (test/fixtures/invoke-app.mjs) on a free port, and a `bulwark sidecar` beside it, all sharing
// one BULWARK_HOME so the local registry finds them.
import { join } from 'node:path';
import { ROOT, startProcess, startSidecar, type Proc, type SidecarProc } from './processes.js';

export const INVOKE_APP = join(ROOT, 'test/fixtures/invoke-app.mjs');

export interface AppProc extends Proc {
  port: number;
}

export async function startApp(name: string, env: Record<string, string> = {}): Promise<AppProc> {
  const p = startProcess(process.execPath, [INVOKE_APP], { env: { PORT: '0', NAME: name, ...env } });
  const m = await p.waitFor(/listening on (\d+)/);
  return { ...p, port: Number(m[1]) };
}

export interface Member {
  app: AppProc;
  sidecar: SidecarProc;
  internalPort: number;
}

/** One app and its sidecar; `resources` default to an empty folder (no embedded components). */
export async function startMember(appId: string, home: string, opts: { name?: string; args?: string[]; resources?: Record<string, string>; env?: Record<string, string> } = {}): Promise<Member> {
  const app = await startApp(opts.name ?? appId);
  const sidecar = await startSidecar({
    appId,
    home,
    resources: opts.resources ?? {},
    args: ['--app-port', String(app.port), ...(opts.args ?? [])],
    ...(opts.env ? { env: opts.env } : {}),
  });
  const m = await sidecar.waitFor(/internal \(sidecar-to-sidecar\) listening on [^:\s]+:(\d+)/);
  await sidecar.waitFor(/application discovered/);
  return { app, sidecar, internalPort: Number(m[1]) };
}

