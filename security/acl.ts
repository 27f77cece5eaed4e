// Service-invocation access control (Configuration spec.accessControl), evaluated on the called
// side against the caller's verified SPIFFE ID exactly as Dapr evaluates it: global default,
// then the policy for the caller's appId+namespace (same trust domain and namespace), its
// default, then the first operation that matches in Dapr's trie order, then the HTTP verb.
import { DEFAULT_TRUST_DOMAIN, type SpiffeId } from './identity.js';

type Obj = Record<string, unknown>;

export interface AclOperationAction {
  /** Verb (as written, compared case-sensitively with the request's upper-case verb) -> action. */
  verbs: Map<string, string>;
  /** The operation's action (used for gRPC apps). */
  action: string;
  name: string;
}

interface TrieNode {
  seg: string;
  data: AclOperationAction | undefined;
  children: TrieNode[];
}

export interface AclPolicy {
  appId: string;
  trustDomain: string;
  namespace: string;
  defaultAction: string;
  root: TrieNode;
}

export interface AccessControl {
  defaultAction: string;
  trustDomain: string;
  policies: Map<string, AclPolicy>;
  /** The app speaks HTTP: operation names are lower-cased and verbs apply. */
  isHttp: boolean;
}

export class AclError extends Error {
  override readonly name = 'AclError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ParsedAcl {
  acl: AccessControl | undefined;
  warnings: string[];
}

const str = (o: Obj, k: string): string => (typeof o[k] === 'string' ? (o[k] as string) : o[k] === undefined || o[k] === null ? '' : String(o[k]));
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Decodes spec.accessControl. Dapr's built-in default Configuration holds
 * `{defaultAction: allow, trustDomain: public}` and a user's file is merged into it, so an
 * omitted global defaultAction stays `allow` even when policies are listed (the docs say deny):
 * we do the same and warn.
 */
export function parseAccessControl(raw: Obj | undefined, isHttp = true): ParsedAcl {
  const warnings: string[] = [];
  if (!raw || (!raw.defaultAction && !raw.trustDomain && !(Array.isArray(raw.policies) && raw.policies.length > 0))) return { acl: undefined, warnings };
  let defaultAction = str(raw, 'defaultAction');
  const policiesRaw = Array.isArray(raw.policies) ? raw.policies : [];
  if (!defaultAction) {
    defaultAction = 'allow';
    if (policiesRaw.length > 0) {
      warnings.push('accessControl lists policies but no defaultAction: callers that match no policy are ALLOWED (Dapr keeps its built-in default "allow"); set defaultAction: deny to fail closed');
    }
  }
  const acl: AccessControl = { defaultAction, trustDomain: str(raw, 'trustDomain') || DEFAULT_TRUST_DOMAIN, policies: new Map(), isHttp };
  policiesRaw.forEach((p, i) => {
    const at = `spec.accessControl.policies[${i}]`;
    if (!isObj(p)) throw new AclError(at, 'a policy must be a mapping');
    for (const k of ['appId', 'trustDomain', 'namespace']) if (!str(p, k)) throw new AclError(`${at}.${k}`, `${k} is required in every access control policy`);
    const policy: AclPolicy = {
      appId: str(p, 'appId'),
      trustDomain: str(p, 'trustDomain'),
      namespace: str(p, 'namespace'),
      defaultAction: str(p, 'defaultAction'),
      root: { seg: '', data: undefined, children: [] },
    };
    const ops = Array.isArray(p.operations) ? p.operations : [];
    ops.forEach((o, j) => {
      if (!isObj(o)) throw new AclError(`${at}.operations[${j}]`, 'an operation must be a mapping');
      let name = str(o, 'name');
      if (!name.startsWith('/')) name = `/${name}`;
      if (isHttp) name = name.toLowerCase();
      const action = str(o, 'action');
      const verbs = new Map<string, string>();
      for (const v of Array.isArray(o.httpVerb) ? o.httpVerb : []) verbs.set(String(v), action);
      insert(policy.root, name, { verbs, action, name });
    });
    // A later policy for the same appId and namespace replaces an earlier one.
    acl.policies.set(`${policy.appId}||${policy.namespace}`, policy);
  });
  return { acl, warnings };
}

function insert(root: TrieNode, name: string, data: AclOperationAction): void {
  let node = root;
  const parts = name.split('/');
  for (let i = 1; i < parts.length; i++) {
    const seg = `/${parts[i]}`;
    let child = node.children.find((c) => c.seg === seg);
    if (!child) {
      child = { seg, data: undefined, children: [] };
      node.children.push(child);
    }
    node = child;
  }
  node.data ??= data; // duplicates: the first definition is kept
}

/** `*` is any run of characters (within the segment, which starts with `/`). */
function globMatch(text: string, pattern: string): boolean {
  let t = 0;
  let p = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
      t++;
      p++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

// Siblings are tried in the order the operations were listed; the first that matches wins.
function findChild(node: TrieNode, seg: string, isEnd: boolean): TrieNode | undefined {
  for (const c of node.children) {
    if (c.seg === '/**') return c;
    if (c.seg === '/*') {
      if (isEnd) return c;
      continue;
    }
    if (c.seg === seg) return c;
    if (c.seg.includes('*') && globMatch(seg, c.seg)) return c;
  }
  return undefined;
}

/** The operation that governs `op` (starting with `/`), with Dapr's prefix semantics. */
export function matchOperation(policy: AclPolicy, op: string): AclOperationAction | undefined {
  let node: TrieNode | undefined = policy.root;
  const parts = op.split('/');
  for (let i = 1; i < parts.length; i++) {
    const isEnd = i === parts.length - 1;
    node = findChild(node, `/${parts[i]}`, isEnd);
    if (!node) return undefined;
    if (node.data) return node.data;
    if (isEnd) {
      const star = findChild(node, '/*', true);
      return star?.data;
    }
  }
  return undefined;
}

export interface AclDecision {
  allowed: boolean;
  /** Which default supplied the answer when no operation decided: 'global' or 'app'. */
  level: 'global' | 'app';
  /** The operation as evaluated (with its leading `/`, lower-cased for HTTP apps). */
  operation: string;
}

/** Evaluates one call. `verb` is the HTTP method (upper case) or undefined for gRPC. */
export function evaluateAcl(acl: AccessControl | undefined, caller: SpiffeId | undefined, method: string, verb: string | undefined): AclDecision {
  let op = method.startsWith('/') ? method : `/${method}`;
  if (acl?.isHttp) op = op.toLowerCase();
  if (!acl) return { allowed: true, level: 'global', operation: op };
  let action = acl.defaultAction;
  let level: AclDecision['level'] = 'global';
  const decide = (): AclDecision => ({ allowed: action.toLowerCase() === 'allow', level, operation: op });
  if (!caller) return decide();
  const policy = acl.policies.get(`${caller.appId}||${caller.namespace}`);
  if (!policy || policy.trustDomain !== caller.trustDomain || policy.namespace !== caller.namespace) return decide();
  if (policy.defaultAction) {
    action = policy.defaultAction;
    level = 'app';
  }
  const match = matchOperation(policy, op);
  if (match) {
    if (acl.isHttp) action = verb ? (match.verbs.get(verb) ?? match.verbs.get('*') ?? action) : policy.defaultAction;
    else action = match.action;
  }
  return decide();
}
