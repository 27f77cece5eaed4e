// daprd's security metrics scraped from a real sidecar's metrics port: mTLS start-up
// (dapr_runtime_mtls_init_total), rotations of a 6-second workload certificate and a failed
// renewal once the sentry is gone (dapr_runtime_mtls_workload_cert_rotated[_fail]_total), and
// the access-control counters for allowed and denied calls at app and global level, labelled
// with the caller's SPIFFE identity.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readEntries } from '../../proxy/naming/local-registry.js';
import { startMember, type Member } from '../helpers/mesh.js';
import { eventually, stopProcess, tempDir, writeFolder } from '../helpers/processes.js';
import { certInit, startSentry, type SentryProc } from '../helpers/security.js';

const GRPC = ['--dapr-grpc-port', '0'];

// alice has an app policy (its own defaultAction: decisions are at app level); carol has a policy
// without a defaultAction, so even her matched operation is counted at global level (as in Dapr);
// dave has no policy at all (global).
const ACL = `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: bobconfig
spec:
  accessControl:
    defaultAction: deny
    trustDomain: public
    policies:
    - appId: alice
      defaultAction: deny
      trustDomain: public
      namespace: default
      operations:
      - name: /hello
        httpVerb: ['GET']
        action: allow
    - appId: carol
      trustDomain: public
      namespace: default
      operations:
      - name: /hello
        httpVerb: ['GET']
        action: allow
`;

let home: string;
let sentry: SentryProc;
let members: Record<'alice' | 'bob' | 'carol' | 'dave', Member>;

beforeAll(async () => {
  home = tempDir('bulwark-secmetrics-');
  await certInit(home);
  sentry = await startSentry(home, { workloadCertTTL: '6s' });
  const mtls = ['--enable-mtls', '--sentry-address', sentry.address, ...GRPC];
  const config = join(writeFolder({ 'bob.yaml': ACL }), 'bob.yaml');
  const bob = await startMember('bob', home, { args: [...mtls, '--config', config] });
  const alice = await startMember('alice', home, { args: mtls });
  const carol = await startMember('carol', home, { args: mtls });
  const dave = await startMember('dave', home, { args: mtls });
  members = { alice, bob, carol, dave };
}, 90_000);

async function scrape(appId: string): Promise<string> {
  const port = readEntries(home).find((e) => e.appId === appId)?.metricsPort;
  if (!port) throw new Error(`no metrics port registered for ${appId}`);
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return res.text();
}

/** The value of the one series of `name` whose labels include all of `labels` (0 when absent). */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

async function invoke(from: Member, path: string): Promise<number> {
  const res = await fetch(`${from.sidecar.url}/v1.0/invoke/bob/method${path}`);
  await res.arrayBuffer();
  return res.status;
}

const caller = (appId: string): Record<string, string> => ({ app_id: appId, trustDomain: 'public', namespace: 'default' });

describe('security metrics on the metrics port', () => {
  it('counts access-control decisions by level and outcome, labelled with the caller identity', async () => {
    const { alice, carol, dave } = members;
    expect(await invoke(alice, '/hello')).toBe(200);
    expect(await invoke(alice, '/hello')).toBe(200);
    expect(await invoke(alice, '/secret')).toBe(403);
    expect(await invoke(carol, '/hello')).toBe(200);
    expect(await invoke(carol, '/secret')).toBe(403);
    expect(await invoke(dave, '/hello')).toBe(403);
    expect(await invoke(dave, '/hello')).toBe(403);
    const text = await scrape('bob');
    expect(value(text, 'dapr_runtime_acl_app_policy_action_allowed_total', caller('alice'))).toBe(2);
    expect(value(text, 'dapr_runtime_acl_app_policy_action_blocked_total', caller('alice'))).toBe(1);
    expect(value(text, 'dapr_runtime_acl_global_policy_action_allowed_total', caller('carol'))).toBe(1);
    expect(value(text, 'dapr_runtime_acl_global_policy_action_blocked_total', caller('carol'))).toBe(1);
    expect(value(text, 'dapr_runtime_acl_global_policy_action_blocked_total', caller('dave'))).toBe(2);
    expect(value(text, 'dapr_runtime_acl_app_policy_action_allowed_total', caller('dave'))).toBe(0);
    // A sidecar without accessControl records no decisions.
    expect(value(await scrape('alice'), 'dapr_runtime_acl_global_policy_action_allowed_total')).toBe(0);
  });

  it('counts the mTLS start once and each rotation of a short-lived certificate', async () => {
    const first = await scrape('bob');
    expect(value(first, 'dapr_runtime_mtls_init_total', { app_id: 'bob' })).toBe(1);
    const rotated = await eventually(async () => {
      const n = value(await scrape('bob'), 'dapr_runtime_mtls_workload_cert_rotated_total', { app_id: 'bob' });
      return n >= 2 ? n : 0;
    }, 30_000, 500);
    expect(rotated).toBeGreaterThanOrEqual(2);
    expect(value(await scrape('bob'), 'dapr_runtime_mtls_init_total', { app_id: 'bob' })).toBe(1);
    expect(value(await scrape('bob'), 'dapr_runtime_mtls_workload_cert_rotated_fail_total', { reason: 'sentry_conn' })).toBe(0);
  });

  it('counts a failed renewal with reason sentry_conn when the sentry is gone', async () => {
    await stopProcess(sentry);
    const failed = await eventually(async () => value(await scrape('bob'), 'dapr_runtime_mtls_workload_cert_rotated_fail_total', { app_id: 'bob', reason: 'sentry_conn' }), 30_000, 500);
    expect(failed).toBeGreaterThanOrEqual(1);
  });
});
