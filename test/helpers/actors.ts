// Shared set-up for the actor tests: the plain-HTTP actor app behind a sidecar, a state store
// for actors, and small readers for the app's event log.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startSidecar, type SidecarProc } from './processes.js';

export const ACTOR_APP = join(ROOT, 'test/fixtures/actor-app.mjs');

/** Several sidecars run at once in these tests: none may take the default gRPC port. */
export const NO_GRPC = ['--dapr-grpc-port', '0'];

export function sqliteActorStore(file: string): string {
  return `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: actorstore
spec:
  type: state.sqlite
  version: v1
  metadata:
  - name: connectionString
    value: "${file}"
  - name: actorStateStore
    value: "true"
`;
}

export interface ActorHostStart {
  appId: string;
  home: string;
  resources: Record<string, string>;
  env?: Record<string, string>;
  args?: string[];
}

/** `bulwark run` with the plain actor app; resolves once the sidecar has joined placement. */
export async function startActorHost(s: ActorHostStart): Promise<SidecarProc> {
  const p = await startSidecar({
    appId: s.appId,
    home: s.home,
    resources: s.resources,
    args: ['--app-port', '0', '--log-level', 'info', ...NO_GRPC, ...(s.args ?? [])],
    app: [process.execPath, ACTOR_APP],
    env: s.env ?? {},
  });
  await p.waitFor(/actors: joined placement/, 30_000);
  return p;
}

export interface ActorEvent {
  ev: 'activate' | 'deactivate' | 'reminder' | 'timer' | 'enter' | 'exit';
  type: string;
  id: string;
  host: string;
  at: number;
  name?: string;
  body?: { data?: unknown; dueTime?: string; period?: string; callback?: string };
}

export function readEvents(file: string): ActorEvent[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ActorEvent);
}

export async function callActor(sidecar: SidecarProc, type: string, id: string, method: string, body?: unknown, verb = 'POST', headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const r = await fetch(`${sidecar.url}/v1.0/actors/${type}/${encodeURIComponent(id)}/method/${method}`, {
    method: verb,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: r.status, text: await r.text(), headers: r.headers };
}
