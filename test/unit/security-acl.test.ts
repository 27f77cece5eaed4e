// The access control evaluator against Dapr's rules (spec/security.md §5), cell by cell:
// defaults and their precedence, caller app / namespace / trust domain, verbs, and the
// operation trie's wildcards, prefix semantics and sibling order.
import { describe, expect, it } from 'vitest';
import { AclError, evaluateAcl, parseAccessControl, type AccessControl } from '../../security/acl.js';
import { parseSpiffeId, type SpiffeId } from '../../security/identity.js';

const id = (uri: string): SpiffeId => parseSpiffeId(uri)!;
const alice = id('spiffe://public/ns/default/alice');

function acl(raw: Record<string, unknown>, isHttp = true): AccessControl {
  return parseAccessControl(raw, isHttp).acl!;
}

function ops(operations: Array<Record<string, unknown>>, policyDefault = 'deny', globalDefault = 'deny'): AccessControl {
  return acl({
    defaultAction: globalDefault,
    trustDomain: 'public',
    policies: [{ appId: 'alice', defaultAction: policyDefault, trustDomain: 'public', namespace: 'default', operations }],
  });
}

const allowed = (a: AccessControl | undefined, caller: SpiffeId | undefined, op: string, verb?: string): boolean => evaluateAcl(a, caller, op, verb).allowed;

describe('parsing', () => {
  it('no accessControl means no ACL: everything is allowed', () => {
    expect(parseAccessControl(undefined).acl).toBeUndefined();
    expect(parseAccessControl({}).acl).toBeUndefined();
    expect(allowed(undefined, undefined, '/x', 'GET')).toBe(true);
  });

  it('an empty trustDomain becomes public', () => {
    expect(acl({ defaultAction: 'deny' }).trustDomain).toBe('public');
  });

  it('policies without a global defaultAction keep Dapr\'s built-in allow, with a warning', () => {
    const p = parseAccessControl({ policies: [{ appId: 'alice', trustDomain: 'public', namespace: 'default' }] });
    expect(p.acl!.defaultAction).toBe('allow');
    expect(p.warnings.join()).toMatch(/ALLOWED/);
    expect(allowed(p.acl, id('spiffe://public/ns/default/bob'), '/x', 'GET')).toBe(true);
  });

  it.each(['appId', 'trustDomain', 'namespace'])('a policy without %s fails the whole ACL', (field) => {
    const policy: Record<string, string> = { appId: 'a', trustDomain: 'public', namespace: 'default' };
    delete policy[field];
    expect(() => parseAccessControl({ defaultAction: 'deny', policies: [policy] })).toThrow(AclError);
  });

  it('a later policy for the same app and namespace replaces an earlier one', () => {
    const a = acl({
      defaultAction: 'deny',
      policies: [
        { appId: 'alice', defaultAction: 'allow', trustDomain: 'public', namespace: 'default' },
        { appId: 'alice', defaultAction: 'deny', trustDomain: 'public', namespace: 'default' },
      ],
    });
    expect(allowed(a, alice, '/x', 'GET')).toBe(false);
  });
});

describe('defaults and who the caller is', () => {
  const a = acl({
    defaultAction: 'deny',
    trustDomain: 'public',
    policies: [
      { appId: 'alice', defaultAction: 'allow', trustDomain: 'public', namespace: 'default' },
      { appId: 'carol', trustDomain: 'public', namespace: 'prod', operations: [{ name: '/op', httpVerb: ['GET'], action: 'allow' }] },
    ],
  });
  it.each([
    ['matching app, namespace and trust domain: the policy default (allow)', 'spiffe://public/ns/default/alice', true],
    ['unknown app: the global default (deny)', 'spiffe://public/ns/default/bob', false],
    ['same app in another namespace: the global default', 'spiffe://public/ns/other/alice', false],
    ['same app in another trust domain: the global default', 'spiffe://evil/ns/default/alice', false],
    ['policy without its own default, no operation matches: the global default', 'spiffe://public/ns/prod/carol', false],
  ])('%s', (_name, uri, expected) => {
    expect(allowed(a, id(uri), '/x', 'GET')).toBe(expected);
  });

  it('a caller without a verified identity gets the global default', () => {
    expect(allowed(a, undefined, '/x', 'GET')).toBe(false);
    expect(allowed(acl({ defaultAction: 'allow' }), undefined, '/x', 'GET')).toBe(true);
  });

  it('actions compare case-insensitively; anything but allow is deny', () => {
    expect(allowed(ops([{ name: '/a', httpVerb: ['GET'], action: 'ALLOW' }]), alice, '/a', 'GET')).toBe(true);
    expect(allowed(ops([{ name: '/a', httpVerb: ['GET'], action: 'yes' }], 'allow'), alice, '/a', 'GET')).toBe(false);
    expect(allowed(ops([{ name: '/a', httpVerb: ['GET'] }], 'allow'), alice, '/a', 'GET')).toBe(false);
  });
});

describe('verbs', () => {
  const a = ops([
    { name: '/get-only', httpVerb: ['GET'], action: 'allow' },
    { name: '/any', httpVerb: ['*'], action: 'allow' },
    { name: '/lower', httpVerb: ['get'], action: 'allow' },
    { name: '/denied', httpVerb: ['POST'], action: 'deny' },
  ], 'allow');
  it.each([
    ['/get-only', 'GET', true],
    ['/get-only', 'POST', true], // verb not listed: the action stays the policy default (allow)
    ['/any', 'DELETE', true],
    ['/lower', 'GET', true], // `get` never matches GET: the policy default decides
    ['/denied', 'POST', false],
    ['/denied', 'GET', true],
  ])('%s %s -> %s', (op, verb, expected) => {
    expect(allowed(a, alice, op, verb)).toBe(expected);
  });

  it('with policy default deny, an unlisted verb is denied', () => {
    const d = ops([{ name: '/get-only', httpVerb: ['GET'], action: 'allow' }]);
    expect(allowed(d, alice, '/get-only', 'GET')).toBe(true);
    expect(allowed(d, alice, '/get-only', 'PUT')).toBe(false);
  });

  it('an HTTP request without a verb takes the policy default (empty: deny)', () => {
    expect(allowed(ops([{ name: '/a', httpVerb: ['GET'], action: 'allow' }], 'allow'), alice, '/a', undefined)).toBe(true);
    expect(allowed(ops([{ name: '/a', httpVerb: ['GET'], action: 'allow' }], ''), alice, '/a', undefined)).toBe(false);
  });

  it('a gRPC app uses the operation action and ignores verbs', () => {
    const g = acl({ defaultAction: 'deny', policies: [{ appId: 'alice', trustDomain: 'public', namespace: 'default', operations: [{ name: 'Say', action: 'allow' }] }] }, false);
    expect(allowed(g, alice, 'Say', undefined)).toBe(true);
    expect(allowed(g, alice, 'say', undefined)).toBe(false); // names keep their case for gRPC
  });

  it('HTTP operation names are lower-cased, and so is the request', () => {
    expect(allowed(ops([{ name: 'Mixed/Case', httpVerb: ['GET'], action: 'allow' }]), alice, '/MIXED/case', 'GET')).toBe(true);
  });
});

describe('operation paths (the trie)', () => {
  const one = (name: string): AccessControl => ops([{ name, httpVerb: ['*'], action: 'allow' }]);
  it.each([
    ['/op1', '/op1', true],
    ['/op1', '/op1/anything/else', true], // a rule on a prefix covers everything below
    ['/op1', '/op2', false],
    ['/op1/*', '/op1/a', true],
    ['/op1/*', '/op1/a/b', false], // one level only
    ['/op1/*', '/op1', true], // the /* child is tried at the end
    ['/op1/**', '/op1/a/b', true],
    ['/op1/**', '/op1', true], // at the end the /* lookup also accepts a /** child
    ['/a/*/c', '/a/x/c', false], // a bare * only works as the last segment
    ['/a/x*/c', '/a/xyz/c', true], // in-segment glob
    ['/a/x*/c', '/a/yx/c', false],
    ['/v*1', '/v2021', true],
    ['/**', '/anything/at/all', true],
  ])('rule %s, request %s -> %s', (rule, req, expected) => {
    expect(allowed(one(rule), alice, req, 'GET')).toBe(expected);
  });

  it('siblings are tried in the order listed: /** before /public wins', () => {
    const a = ops([
      { name: '/**', httpVerb: ['*'], action: 'deny' },
      { name: '/public', httpVerb: ['*'], action: 'allow' },
    ], 'allow');
    expect(allowed(a, alice, '/public', 'GET')).toBe(false);
  });

  it('/public listed before /** wins for /public; others fall to /**', () => {
    const a = ops([
      { name: '/public', httpVerb: ['*'], action: 'allow' },
      { name: '/**', httpVerb: ['*'], action: 'deny' },
    ], 'allow');
    expect(allowed(a, alice, '/public', 'GET')).toBe(true);
    expect(allowed(a, alice, '/other', 'GET')).toBe(false);
  });

  it.each([['admin first'], ['op1 first']])('a rule on a shorter path shadows a deeper one (%s)', (order) => {
    const rules = [
      { name: '/op1/admin', httpVerb: ['*'], action: 'deny' },
      { name: '/op1', httpVerb: ['*'], action: 'allow' },
    ];
    const a = ops(order === 'admin first' ? rules : rules.reverse());
    expect(allowed(a, alice, '/op1/admin', 'GET')).toBe(true);
  });

  it('duplicate operation names: the first definition is kept', () => {
    const a = ops([
      { name: '/dup', httpVerb: ['GET'], action: 'allow' },
      { name: '/dup', httpVerb: ['GET'], action: 'deny' },
    ]);
    expect(allowed(a, alice, '/dup', 'GET')).toBe(true);
  });

  it('the decision names the level that supplied the default', () => {
    expect(evaluateAcl(ops([], 'allow'), alice, '/x', 'GET').level).toBe('app');
    expect(evaluateAcl(ops([], ''), alice, '/x', 'GET').level).toBe('global');
  });
});

describe('SPIFFE ids', () => {
  it.each([
    ['spiffe://public/ns/default/app', { trustDomain: 'public', namespace: 'default', appId: 'app' }],
    ['spiffe://cluster.local/ns/prod/app/extra', { trustDomain: 'cluster.local', namespace: 'prod', appId: 'app' }],
  ])('parses %s', (uri, want) => {
    expect(parseSpiffeId(uri)).toMatchObject(want);
  });
  it.each(['http://public/ns/default/app', 'spiffe://public/ns//app', 'spiffe://public/default/app', 'spiffe://public/ns/default', 'spiffe:///ns/a/b', 'spiffe://Public/ns/a/b'])('refuses %s', (uri) => {
    expect(parseSpiffeId(uri)).toBeUndefined();
  });
});
