// JSON text as Go's encoding/json writes a decoded `interface{}`: object keys sorted, `<`, `>`,
// `&`, U+2028 and U+2029 escaped, and float exponents with at least two digits. Dapr re-serializes
// an output binding's `data` this way, so components see the bytes a Dapr sidecar would hand them.

export function goJsonMarshal(value: unknown): string {
  switch (typeof value) {
    case 'undefined':
      return 'null';
    case 'string':
      return escapeGo(JSON.stringify(value));
    case 'number':
      return goNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) return `[${value.map(goJsonMarshal).join(',')}]`;
      return `{${Object.keys(value)
        .sort(compareUtf8)
        .map((k) => `${escapeGo(JSON.stringify(k))}:${goJsonMarshal((value as Record<string, unknown>)[k])}`)
        .join(',')}}`;
    default:
      return 'null';
  }
}

function escapeGo(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Go's float64 format: 'f' within [1e-6, 1e21), else 'e' with a two-digit exponent. */
function goNumber(n: number): string {
  if (!Number.isFinite(n)) return 'null';
  const abs = Math.abs(n);
  if (abs !== 0 && (abs < 1e-6 || abs >= 1e21)) {
    const [mant, exp] = n.toExponential().split('e') as [string, string];
    const sign = exp.startsWith('-') ? '-' : '+';
    const digits = exp.replace(/^[-+]/, '');
    return `${mant}e${sign}${digits.padStart(2, '0')}`;
  }
  return String(n);
}

/** Go sorts map keys by bytes; for UTF-16 strings outside the BMP this differs from `<`. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
