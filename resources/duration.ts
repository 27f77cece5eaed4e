// Go duration strings ("1h30m", "500ms", "-1.5s") as Dapr's resources and flags use them.
const UNITS: Record<string, number> = {
  ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Milliseconds of a Go duration string, or undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
  let s = text.trim();
  if (s === '') return undefined;
  let sign = 1;
  if (s[0] === '-' || s[0] === '+') {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  let total = 0;
  PART.lastIndex = 0;
  let pos = 0;
  while (pos < s.length) {
    PART.lastIndex = pos;
    const m = PART.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * UNITS[m[2]!]!;
    pos = PART.lastIndex;
  }
  return sign * total;
}

/**
 * Component-metadata durations (dapr/kit rules): a Go duration, or else a bare integer read as
 * seconds. Undefined when neither.
 */
export function parseMetadataDuration(text: string): number | undefined {
  const d = parseGoDuration(text);
  if (d !== undefined) return d;
  return /^-?\d+$/.test(text.trim()) ? Number(text.trim()) * 1000 : undefined;
}

/** Formats milliseconds the way Go prints a time.Duration ("5s", "1m30s", "500ms"). */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const neg = ms < 0;
  let rest = Math.abs(ms);
  if (rest < 1000) return `${neg ? '-' : ''}${trim(rest)}ms`;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  let out = '';
  if (h) out += `${h}h`;
  if (h || m) out += `${m}m`;
  out += `${trim(rest / 1000)}s`;
  return (neg ? '-' : '') + out;
}

function trim(n: number): string {
  return String(Number(n.toFixed(9)));
}
