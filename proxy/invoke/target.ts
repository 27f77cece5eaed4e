// Where an invocation goes and which path it asks for, taken from the request the way Dapr
// takes them: the `dapr-app-id` header (or Basic auth `dapr-app-id:<id>`) wins, else the
// `/v1.0/invoke/<target>/method/<method>` path. The method is decoded, checked and cleaned
// here once, so no later step can climb out of the target with `..`, `%2F..` or a URL.
import { DaprError } from '../../core/errors.js';

export type Target =
  | { kind: 'app'; appId: string; namespace: string | undefined; raw: string }
  | { kind: 'url'; baseUrl: string; raw: string };

const INVOKE_PREFIX = '/v1.0/invoke/';

/** The target as written (header value or path segment), already unescaped. */
export function parseTarget(raw: string): Target {
  if (/^https?:\/\//i.test(raw)) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new DaprError('invokeFailed', `failed to invoke, id: ${raw}, err: invalid URL`);
    }
    return { kind: 'url', baseUrl: `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`, raw };
  }
  const parts = raw.split('.');
  if (parts.length > 2 || parts.some((p) => p === '')) {
    throw new DaprError('invokeFailed', `failed to invoke, id: ${raw}, err: invalid app id: ${raw}`);
  }
  return { kind: 'app', appId: parts[0]!, namespace: parts[1], raw };
}

/** The app id from `Authorization: Basic base64("dapr-app-id:<id>")`, if the header is that. */
export function basicAuthAppId(header: string | undefined): string | undefined {
  if (!header || !/^basic /i.test(header)) return undefined;
  const text = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0 || text.slice(0, colon).toLowerCase() !== 'dapr-app-id') return undefined;
  return text.slice(colon + 1) || undefined;
}

export interface PathTarget {
  target: string;
  /** The method as sent, still escaped. */
  rawMethod: string;
}

/**
 * Splits `/v1.0/invoke/<target>/method/<method>` on the raw path. The target may be a URL with
 * `://` in it (raw or escaped), so the split is at the first `/method/` after the prefix.
 */
export function splitInvokePath(path: string): PathTarget | undefined {
  if (!path.startsWith(INVOKE_PREFIX)) return undefined;
  const rest = path.slice(INVOKE_PREFIX.length);
  const at = rest.indexOf('/method/');
  if (at <= 0) {
    // `/v1.0/invoke/<id>/method` with an empty method.
    if (rest.endsWith('/method') && rest.length > 7) return { target: unescape(rest.slice(0, -7)), rawMethod: '' };
    return undefined;
  }
  return { target: unescape(rest.slice(0, at)), rawMethod: rest.slice(at + 8) };
}

function unescape(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw new DaprError('badRequest', `invalid escaping in the invocation target ${s}`);
  }
}

// Characters kept as they are in a path segment; everything else is percent-encoded again.
const SEGMENT_SAFE = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;

/**
 * Decodes, checks and cleans a method: control bytes, NUL, `#` and `?` are refused; `.` and
 * `..` segments are resolved and any that would climb above the root are dropped; empty
 * segments collapse. Returns the path to send, starting with `/`, each segment re-escaped, so
 * a decoded `/` can never become a new authority or reach another host.
 */
export function normaliseMethod(rawMethod: string, target: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawMethod);
  } catch {
    throw invalidMethod(target, 'invalid escaping');
  }
  for (let i = 0; i < decoded.length; i++) {
    const c = decoded.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x23 /* # */ || c === 0x3f /* ? */) throw invalidMethod(target, 'forbidden character');
  }
  const out: string[] = [];
  for (const seg of decoded.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      out.pop();
      continue;
    }
    out.push(escapeSegment(seg));
  }
  let path = '/' + out.join('/');
  if (decoded.length > 1 && decoded.endsWith('/') && out.length > 0) path += '/';
  return path;
}

function escapeSegment(seg: string): string {
  let safe = true;
  for (const ch of seg) {
    if (!SEGMENT_SAFE.test(ch)) {
      safe = false;
      break;
    }
  }
  if (safe) return seg;
  let out = '';
  for (const ch of seg) out += SEGMENT_SAFE.test(ch) ? ch : encodeURIComponent(ch);
  return out;
}

function invalidMethod(target: string, why: string): DaprError {
  return new DaprError('invokeFailed', `failed to invoke, id: ${target}, err: invalid method: ${why}`);
}
