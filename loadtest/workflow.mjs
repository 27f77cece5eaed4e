// Workflow throughput: a 3-activity chain started by DaprWorkflowClient against one bulwark
// sidecar (SQLite actor state store) with one SDK worker app, at 1 and at 50 concurrent starts.
// Prints instances/s and p50/p99 start-to-complete latency. Run: npm run build && node loadtest/workflow.mjs
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DaprWorkflowClient, WorkflowRuntimeStatus } from '@dapr/dapr';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'bulwark-wf-bench-'));
const port = await new Promise((r) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => r(p));
  });
});
writeFileSync(join(dir, 'store.yaml'), `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: actorstore
spec:
  type: state.sqlite
  version: v1
  metadata:
  - name: connectionString
    value: "${join(dir, 'wf.db')}"
  - name: actorStateStore
    value: "true"
`);
const children = [];
const start = (args, env, ready) =>
  new Promise((resolve) => {
    const c = spawn(process.execPath, args, { env: { ...process.env, BULWARK_HOME: dir, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(c);
    let out = '';
    const on = (d) => {
      out += d;
      if (ready.test(out)) resolve(c);
    };
    c.stdout.on('data', on);
    c.stderr.on('data', on);
  });
await start([join(ROOT, 'dist/cli/main.js'), 'sidecar', '--app-id', 'wf-bench', '--dapr-http-port', '0', '--metrics-port', '0', '--dapr-grpc-port', String(port), '--resources-path', dir, '--log-level', 'info'], {}, /gRPC API listening/);
await new Promise((r) => setTimeout(r, 500));
await start([join(ROOT, 'test/fixtures/workflow-app.mjs')], { DAPR_GRPC_PORT: String(port) }, /workflow worker started/);
const client = new DaprWorkflowClient({ daprHost: '127.0.0.1', daprPort: String(port) });

async function run(total, concurrency) {
  const lat = [];
  let next = 0;
  const t0 = performance.now();
  const lane = async () => {
    while (next < total) {
      const i = next++;
      const s = performance.now();
      const id = await client.scheduleNewWorkflow('chainWorkflow', { steps: 3 }, `c${concurrency}-${i}-${Date.now()}`);
      const st = await client.waitForWorkflowCompletion(id, false, 120);
      if (st?.runtimeStatus !== WorkflowRuntimeStatus.COMPLETED) throw new Error(`instance ${id} ended ${st?.runtimeStatus}`);
      lat.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(1);
  console.log(`concurrency ${concurrency}: ${total} instances in ${secs.toFixed(1)} s = ${(total / secs).toFixed(1)} instances/s; p50 ${q(0.5)} ms, p99 ${q(0.99)} ms`);
}

try {
  await run(20, 1); // warm-up
  await run(200, 1);
  await run(1000, 50);
} finally {
  await client.stop().catch(() => undefined);
  for (const c of children) c.kill('SIGKILL');
  process.exit(0);
}
