// Load generators: a fixed-rate open-loop generator with coordinated-omission correction (each
// latency counts from the request's scheduled time; see latency.ts), a closed-loop max-throughput
// generator in this process, and wrk for max throughput over HTTP when it is installed (a C client
// leaves more of the two cores to the thing measured).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Pool } from 'undici';
import { correctedLatency, dueAt, dueCount } from './latency.js';

/** One request; resolves true on success. */
export type Fire = () => Promise<boolean>;

export interface RunResult {
  /** Latencies in ms (corrected at a fixed rate). */
  latencies: Float64Array;
  ok: number;
  errors: number;
  seconds: number;
  engine: string;
}

export type Progress = (fraction: number) => void;

/** Sends `rate` requests per second for `seconds`, each due at a fixed time (open loop). */
export async function fixedRate(fire: Fire, rate: number, seconds: number, progress?: Progress): Promise<RunResult> {
  const total = Math.max(1, Math.round(rate * seconds));
  const latencies = new Float64Array(total);
  let launched = 0;
  let settled = 0;
  let ok = 0;
  let errors = 0;
  const t0 = performance.now();
  let allDone!: () => void;
  const finished = new Promise<void>((r) => (allDone = r));
  const settle = (i: number, good: boolean): void => {
    latencies[i] = correctedLatency(dueAt(i, rate), performance.now() - t0);
    if (good) ok++;
    else errors++;
    if (++settled === total) allDone();
  };
  const launch = (i: number): void => {
    fire().then(
      (good) => settle(i, good),
      () => settle(i, false),
    );
  };
  let lastTick = 0;
  await new Promise<void>((resolveLoop) => {
    const tick = (): void => {
      const elapsed = performance.now() - t0;
      const due = Math.min(total, dueCount(elapsed, rate));
      while (launched < due) launch(launched++);
      if (progress && elapsed - lastTick > 250) {
        lastTick = elapsed;
        progress(launched / total);
      }
      if (launched < total) setTimeout(tick, 0);
      else resolveLoop();
    };
    tick();
  });
  await finished;
  return { latencies, ok, errors, seconds: (performance.now() - t0) / 1000, engine: 'fixed-rate' };
}

/** `concurrency` loops, each sending the next request when the previous answer arrives. */
export async function closedLoop(fire: Fire, concurrency: number, seconds: number, progress?: Progress): Promise<RunResult> {
  const samples: number[] = [];
  let ok = 0;
  let errors = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const timer = progress ? setInterval(() => progress(Math.min(1, (performance.now() - t0) / (seconds * 1000))), 250) : undefined;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let s = performance.now(); s < end; s = performance.now()) {
        let good = false;
        try {
          good = await fire();
        } catch {
          good = false;
        }
        samples.push(performance.now() - s);
        if (good) ok++;
        else errors++;
      }
    }),
  );
  if (timer) clearInterval(timer);
  return { latencies: Float64Array.from(samples), ok, errors, seconds: (performance.now() - t0) / 1000, engine: 'node closed loop' };
}

export interface HttpRequestSpec {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  headers?: Record<string, string>;
  /** Status that counts as success. */
  expect: number;
}

/** A Fire over an undici pool (keep-alive, `connections` sockets). */
export function httpFire(origin: string, spec: HttpRequestSpec, connections: number): { fire: Fire; close: () => Promise<void> } {
  const pool = new Pool(origin, { connections, pipelining: 1 });
  const opts = { method: spec.method, path: spec.path, body: spec.body, headers: spec.headers };
  const fire: Fire = async () => {
    const r = await pool.request(opts);
    await r.body.dump();
    return r.statusCode === spec.expect;
  };
  return { fire, close: () => pool.close() };
}

let wrkPath: string | null | undefined;
export async function findWrk(): Promise<string | null> {
  if (wrkPath !== undefined) return wrkPath;
  wrkPath = await new Promise<string | null>((r) => {
    const c = spawn('sh', ['-c', 'command -v wrk'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.once('exit', (code) => r(code === 0 && out.trim() ? out.trim() : null));
  });
  return wrkPath;
}

function wrkDuration(v: string, unit: string): number {
  const n = Number(v);
  return unit === 'us' ? n / 1000 : unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n;
}

/**
 * Max throughput with wrk (1 thread, `connections` sockets). wrk reports quantiles, not samples;
 * the result carries them as a 4-sample array [p50, p90, p99, max] with `quantilesOnly` set.
 */
export async function wrkRun(wrk: string, url: string, spec: HttpRequestSpec, connections: number, seconds: number, scriptPath: string): Promise<RunResult & { quantiles: { p50: number; p90: number; p99: number; max: number } }> {
  const lines = [`wrk.method = "${spec.method}"`];
  if (spec.body !== undefined) lines.push(`wrk.body = ${JSON.stringify(spec.body)}`);
  for (const [k, v] of Object.entries(spec.headers ?? {})) lines.push(`wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`);
  lines.push(`local bad = 0`, `response = function(status, headers, body) if status ~= ${spec.expect} then bad = bad + 1 end end`);
  lines.push(`done = function(summary, latency, requests) end`);
  writeFileSync(scriptPath, lines.join('\n') + '\n');
  const out = await new Promise<string>((resolveRun, reject) => {
    const c = spawn(wrk, ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', scriptPath, url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let o = '';
    c.stdout.on('data', (d: Buffer) => (o += d.toString()));
    c.stderr.on('data', (d: Buffer) => (o += d.toString()));
    c.once('exit', (code) => (code === 0 ? resolveRun(o) : reject(new Error(`wrk exited ${code}: ${o}`))));
  });
  const q = (p: string): number => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)`, 'm').exec(out);
    return m ? wrkDuration(m[1]!, m[2]!) : NaN;
  };
  const maxM = /Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m)/.exec(out);
  const reqs = /(\d+) requests in ([\d.]+)(s|ms|m)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  if (!reqs) throw new Error(`cannot read wrk output:\n${out}`);
  const total = Number(reqs[1]);
  const secs = wrkDuration(reqs[2]!, reqs[3]!) / 1000;
  const errors = (non2xx ? Number(non2xx[1]) : 0) + (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  const quantiles = { p50: q('50'), p90: q('90'), p99: q('99'), max: maxM ? wrkDuration(maxM[1]!, maxM[2]!) : NaN };
  return { latencies: new Float64Array(0), ok: total - errors, errors, seconds: secs, engine: 'wrk', quantiles };
}
