// Shared pieces of the bindings suites: the recording app as its own process (so a sidecar can
// stop while the app keeps listening), component YAML, and output-binding calls.
import { join } from 'node:path';
import { freePort } from '../../cli/free-port.js';
import { eventually, ROOT, startProcess, type Proc, type SidecarProc } from '../helpers/processes.js';

const APP = join(ROOT, 'test/conformance/bindings-app.mjs');

export interface Received {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  status: number;
  at: number;
}

export interface RecordingApp {
  proc: Proc;
  port: number;
  url: string;
  received(path?: string): Promise<Received[]>;
}

/** Starts the recording app; `routes` answer the OPTIONS probe, `behavior` as bindings-app.mjs reads it. */
export async function startRecordingApp(routes: string[], behavior: Record<string, unknown> = {}): Promise<RecordingApp> {
  const port = await freePort();
  const proc = startProcess(process.execPath, [APP], { env: { APP_PORT: String(port), ROUTES: JSON.stringify(routes), BEHAVIOR: JSON.stringify(behavior) } });
  const url = `http://127.0.0.1:${port}`;
  await eventually(async () => (await fetch(`${url}/control/received`)).ok);
  return {
    proc,
    port,
    url,
    async received(path) {
      const q = path ? `?path=${encodeURIComponent(path)}` : '';
      return (await (await fetch(`${url}/control/received${q}`)).json()) as Received[];
    },
  };
}

export function componentYaml(name: string, type: string, metadata: Record<string, string>): string {
  const items = Object.entries(metadata).map(([k, v]) => `\n  - name: ${k}\n    value: ${JSON.stringify(v)}`).join('');
  return `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: ${name}
spec:
  type: ${type}
  version: v1
  metadata:${items || ' []'}
`;
}

export interface InvokeResult {
  status: number;
  headers: Headers;
  text: string;
  json(): unknown;
}

export async function invokeBinding(
  sidecar: SidecarProc,
  name: string,
  body: unknown,
  init: { method?: string; headers?: Record<string, string> } = {},
): Promise<InvokeResult> {
  const res = await fetch(`${sidecar.url}/v1.0/bindings/${name}`, {
    method: init.method ?? 'POST',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}
