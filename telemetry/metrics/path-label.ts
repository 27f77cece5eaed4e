// The `path` label of the HTTP metrics, as daprd computes it: `spec.metric.http.pathMatching`
// patterns first (Go ServeMux rules: `{name}` one segment, `{name...}` the rest, a trailing `/`
// a subtree, the most specific pattern wins, `/v1.0/invoke/{app_id}/method` twins added), then
// either "" (increasedCardinality false) or the raw path with Dapr's legacy normalisation.
// Beyond Dapr: at most MAX_RAW_PATHS distinct raw paths per label function, then "", so that
// unbounded ids in invocation paths cannot grow the series without limit.

export const MAX_RAW_PATHS = 1000;
const VERBATIM = new Set(['/dapr/config', '/dapr/metrics', '/dapr/subscribe', '/healthz']);
const INVOKE_PREFIX = '/v1.0/invoke/{app_id}/method';

type Seg = { kind: 'lit'; text: string } | { kind: 'one' } | { kind: 'rest' };

interface Pattern {
  text: string;
  segs: Seg[];
  /** Trailing slash or `{x...}`: matches any deeper path. */
  subtree: boolean;
  /** `{$}`: exact end. */
  exact: boolean;
}

function compile(text: string): Pattern {
  const trimmed = text.trim();
  const parts = trimmed.split('/').slice(1);
  let subtree = false;
  let exact = false;
  if (parts.length > 0 && parts[parts.length - 1] === '') {
    parts.pop();
    subtree = true;
  }
  const segs: Seg[] = [];
  for (const p of parts) {
    if (p === '{$}') {
      exact = true;
      subtree = false;
    } else if (/^\{[^}]*\.\.\.\}$/.test(p)) {
      segs.push({ kind: 'rest' });
      subtree = false;
    } else if (/^\{[^}]*\}$/.test(p)) segs.push({ kind: 'one' });
    else segs.push({ kind: 'lit', text: p });
  }
  return { text: trimmed, segs, subtree, exact };
}

function matches(p: Pattern, segs: string[], trailingSlash: boolean): boolean {
  let i = 0;
  for (const s of p.segs) {
    if (s.kind === 'rest') return true;
    if (i >= segs.length) return false;
    if (s.kind === 'lit' && s.text !== segs[i]) return false;
    i++;
  }
  if (i === segs.length) return p.subtree || p.exact ? trailingSlash || p.segs.length === 0 : !trailingSlash;
  return p.subtree;
}

/** Positive when `a` is more specific than `b`. */
function specificity(a: Pattern, b: Pattern): number {
  const n = Math.min(a.segs.length, b.segs.length);
  for (let i = 0; i < n; i++) {
    const ra = rank(a.segs[i]!);
    const rb = rank(b.segs[i]!);
    if (ra !== rb) return ra - rb;
  }
  if (a.segs.length !== b.segs.length) return a.segs.length - b.segs.length;
  return (a.subtree ? 0 : 1) - (b.subtree ? 0 : 1);
}
const rank = (s: Seg): number => (s.kind === 'lit' ? 2 : s.kind === 'one' ? 1 : 0);

export interface PathLabelOptions {
  increasedCardinality: boolean;
  pathMatching: readonly string[];
}

export class PathLabeler {
  private readonly patterns: Pattern[];
  private readonly seen = new Set<string>();

  constructor(private readonly opts: PathLabelOptions) {
    const texts = new Set<string>();
    for (const p of opts.pathMatching) {
      if (!p.startsWith('/')) continue;
      texts.add(p);
      if (!p.startsWith('/v1.0/invoke/')) texts.add(INVOKE_PREFIX + p);
    }
    // Most specific first, so the first match wins.
    this.patterns = [...texts].map(compile).sort((a, b) => specificity(b, a));
  }

  /** Raw path → label, for paths met before (the same few paths carry most traffic). */
  private readonly memo = new Map<string, string>();

  label(rawPath: string): string {
    const known = this.memo.get(rawPath);
    if (known !== undefined) return known;
    const label = this.compute(rawPath);
    if (this.memo.size >= MAX_RAW_PATHS) this.memo.clear();
    this.memo.set(rawPath, label);
    return label;
  }

  private compute(rawPath: string): string {
    if (VERBATIM.has(rawPath)) return rawPath;
    if (this.patterns.length > 0) {
      const cleaned = ('/' + rawPath).replace(/\/{2,}/g, '/');
      const segs = cleaned.split('/').slice(1);
      const trailingSlash = segs.length > 0 && segs[segs.length - 1] === '';
      if (trailingSlash) segs.pop();
      for (const p of this.patterns) if (matches(p, segs, trailingSlash)) return p.text;
    }
    if (!this.opts.increasedCardinality) return '';
    const normalised = legacyNormalise(rawPath);
    if (this.seen.has(normalised)) return normalised;
    if (this.seen.size >= MAX_RAW_PATHS) return '';
    this.seen.add(normalised);
    return normalised;
  }
}

/** Dapr's legacy grouping of ids in API paths (state keys, secret names, actor and workflow ids). */
export function legacyNormalise(path: string): string {
  const segs = path.split('/');
  // segs[0] is '' for a leading slash.
  const api = segs[2];
  if (segs[1]?.startsWith('v1.0') && api !== undefined) {
    if ((api === 'state' || api === 'secrets') && segs.length > 4) return segs.slice(0, 4).join('/');
    if (api === 'actors' && segs.length > 4) {
      return [...segs.slice(0, 4), '{id}', ...(segs.length > 5 ? [segs[5]!] : [])].join('/');
    }
    if (api === 'workflows' && segs.length > 5) {
      const out = segs.slice(0, 4);
      const op = segs[5];
      if (op === 'start' || segs.length === 5) return path;
      out.push('{instanceId}', op!);
      if (op === 'raiseEvent' && segs.length > 6) out.push('{eventName}');
      return out.join('/');
    }
    return path;
  }
  // App callbacks: /actors/<type>/<id>/method/<name>, /actors/<type>/<id>/method/remind/<name>...
  if (segs[1] === 'actors' && segs.length > 3) return [...segs.slice(0, 3), '{id}', ...segs.slice(4)].join('/');
  return path;
}
