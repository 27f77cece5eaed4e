// Configuration `spec.metric` (or `spec.metrics`, already merged field by field) as daprd reads it.

/** Dapr's default latency buckets, in milliseconds. */
export const LATENCY_BUCKETS_MS = [
  1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 30, 40, 50, 65, 80, 100, 130, 160, 200, 250, 300, 400, 500, 650, 800,
  1000, 2000, 5000, 10000, 20000, 50000, 100000,
];

const KI = 1024;
/** Dapr's size buckets, in bytes. */
export const SIZE_BUCKETS = [1, 2, 4, 16, 64, 256, KI, 4 * KI, 16 * KI, 64 * KI, 256 * KI, KI * KI, 4 * KI * KI].map((n) => n * KI);

export interface LabelRule {
  label: string;
  /** Each regex's matches are replaced by its replacement (Go ReplaceAllString; `$1` expands). */
  replacements: Array<{ regex: RegExp; replacement: string }>;
}

export interface MetricsSettings {
  enabled: boolean;
  increasedCardinality: boolean;
  pathMatching: string[];
  excludeVerbs: boolean;
  recordErrorCodes: boolean;
  latencyBuckets: number[];
  /** Prometheus metric name -> label rewrites. */
  rules: Map<string, LabelRule[]>;
}

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const bool = (v: unknown, dflt: boolean): boolean => (v === undefined || v === null ? dflt : v === true || String(v).toLowerCase() === 'true');

export function metricsSettings(raw: Raw): MetricsSettings {
  const http = isObj(raw.http) ? raw.http : {};
  const buckets = Array.isArray(raw.latencyDistributionBuckets)
    ? raw.latencyDistributionBuckets.map(Number).filter((n) => Number.isFinite(n) && n > 0).sort((a, b) => a - b)
    : [];
  const rules = new Map<string, LabelRule[]>();
  for (const r of Array.isArray(raw.rules) ? raw.rules : []) {
    if (!isObj(r) || typeof r.name !== 'string') continue;
    const labels: LabelRule[] = [];
    for (const l of Array.isArray(r.labels) ? r.labels : []) {
      if (!isObj(l) || typeof l.name !== 'string' || !isObj(l.regex)) continue;
      const replacements = Object.entries(l.regex).map(([replacement, re]) => {
        try {
          return { regex: new RegExp(String(re), 'g'), replacement };
        } catch (err) {
          throw new Error(`Configuration spec.metric.rules ${r.name} label ${l.name}: invalid regex ${String(re)}: ${(err as Error).message}`);
        }
      });
      labels.push({ label: l.name, replacements });
    }
    if (labels.length > 0) rules.set(r.name, labels);
  }
  return {
    enabled: bool(raw.enabled, true),
    increasedCardinality: bool(http.increasedCardinality, true),
    pathMatching: Array.isArray(http.pathMatching) ? http.pathMatching.map(String) : [],
    excludeVerbs: bool(http.excludeVerbs, false),
    recordErrorCodes: bool(raw.recordErrorCodes, false),
    latencyBuckets: buckets.length > 0 ? buckets : LATENCY_BUCKETS_MS,
    rules,
  };
}
