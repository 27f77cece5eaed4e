// Matches method + path against the API routes. Paths are cleaned first (`//` collapsed, `.` and
// `..` resolved, a trailing slash tolerated); parameters are unescaped with query rules (a `+`
// becomes a space), as Dapr's router does. A final `{name*}` segment takes the rest of the path.
// Anything unmatched goes to the fallback (service invocation by `dapr-app-id`).
import { DaprError } from '../core/errors.js';
import type { Exchange, Handler, Route } from '../core/http.js';

interface Node {
  statics: Map<string, Node>;
  param?: { name: string; node: Node };
  rest?: { name: string; handlers: Map<string, Route> };
  handlers: Map<string, Route>;
}

const newNode = (): Node => ({ statics: new Map(), handlers: new Map() });

export class Router {
  private readonly root = newNode();

  constructor(
    routes: readonly Route[],
    private readonly fallback: Handler,
  ) {
    for (const r of routes) this.add(r);
  }

  private add(route: Route): void {
    const segs = route.path.split('/').filter(Boolean);
    let node = this.root;
    for (let i = 0; i < segs.length; i++) {
      const seg = segs[i]!;
      if (seg.startsWith('{') && seg.endsWith('*}')) {
        if (i !== segs.length - 1) throw new Error(`route ${route.path}: a rest parameter must be last`);
        node.rest ??= { name: seg.slice(1, -2), handlers: new Map() };
        node.rest.handlers.set(route.method, route);
        return;
      }
      if (seg.startsWith('{') && seg.endsWith('}')) {
        node.param ??= { name: seg.slice(1, -1), node: newNode() };
        node = node.param.node;
      } else {
        let next = node.statics.get(seg);
        if (!next) node.statics.set(seg, (next = newNode()));
        node = next;
      }
    }
    node.handlers.set(route.method, route);
  }

  readonly handle: Handler = async (ex: Exchange): Promise<void> => {
    const segs = cleanPath(ex.path);
    const params: Record<string, string> = {};
    const route = segs && match(this.root, segs, 0, ex.req.method ?? 'GET', params);
    if (!route) return this.fallback(ex);
    for (const k in params) {
      const v = unescapeQuery(params[k]!);
      if (v === undefined) throw new DaprError('badRequest', `invalid escaping in path parameter ${k}`);
      params[k] = v;
    }
    ex.params = params;
    ex.route = route.path;
    return route.handler(ex);
  };
}

function match(node: Node, segs: string[], i: number, method: string, params: Record<string, string>): Route | undefined {
  if (i === segs.length) return node.handlers.get(method);
  const seg = segs[i]!;
  const s = node.statics.get(seg);
  if (s) {
    const r = match(s, segs, i + 1, method, params);
    if (r) return r;
  }
  if (node.param) {
    const r = match(node.param.node, segs, i + 1, method, params);
    if (r) {
      params[node.param.name] = seg;
      return r;
    }
  }
  if (node.rest) {
    const r = node.rest.handlers.get(method);
    if (r) {
      params[node.rest.name] = segs.slice(i).join('/');
      return r;
    }
  }
  return undefined;
}

/** Path segments after cleaning, or undefined if `..` climbs above the root. */
export function cleanPath(path: string): string[] | undefined {
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) return undefined;
      out.pop();
      continue;
    }
    out.push(seg);
  }
  return out;
}

export function unescapeQuery(s: string): string | undefined {
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}
