// Pure logic of the state block and stores: key prefixing as Dapr derives keys, the alpha1 query
// parser, connection-string parsing for SQLite and PostgreSQL, and the PostgreSQL query builder.
import { describe, expect, it } from 'vitest';
import { parseTTL } from '../../core/state/component.js';
import { KeyPrefixer, actorStateKey, originalKey } from '../../core/state/keys.js';
import { parseStateQuery } from '../../core/state/query.js';
import { buildPostgresQuery } from '../../components/state/postgresql-query.js';
import { parsePostgresConnectionString } from '../../components/state/postgresql.js';
import { parseSqliteConnectionString } from '../../components/state/sqlite.js';

describe('key prefixing', () => {
  it('uses <appId>||key by default and for keyPrefix appid (case-insensitive)', () => {
    expect(new KeyPrefixer('s', undefined, 'app', undefined).storeKey('k')).toBe('app||k');
    expect(new KeyPrefixer('s', 'AppID', 'app', undefined).storeKey('k')).toBe('app||k');
  });

  it('uses the bare key when the sidecar has no app id', () => {
    expect(new KeyPrefixer('s', 'appid', '', undefined).storeKey('k')).toBe('k');
    expect(new KeyPrefixer('s', 'namespace', '', 'ns').storeKey('k')).toBe('k');
  });

  it('supports name, namespace (falling back to appid), none and custom prefixes', () => {
    expect(new KeyPrefixer('store', 'name', 'app', undefined).storeKey('k')).toBe('store||k');
    expect(new KeyPrefixer('s', 'namespace', 'app', 'prod').storeKey('k')).toBe('prod.app||k');
    expect(new KeyPrefixer('s', 'namespace', 'app', undefined).storeKey('k')).toBe('app||k');
    expect(new KeyPrefixer('s', 'none', 'app', undefined).storeKey('k')).toBe('k');
    expect(new KeyPrefixer('s', 'Shared', 'app', undefined).storeKey('k')).toBe('shared||k');
  });

  it('refuses || in keys and in the keyPrefix value with DAPR_STATE_ILLEGAL_KEY', () => {
    const p = new KeyPrefixer('s', undefined, 'app', undefined);
    expect(() => p.storeKey('a||b')).toThrow(expect.objectContaining({ kind: 'stateIllegalKey', status: 400 }));
    expect(() => new KeyPrefixer('s', 'x||y', 'app', undefined)).toThrow(expect.objectContaining({ kind: 'stateIllegalKey' }));
  });

  it('returns the second || segment as the user key, as Dapr does', () => {
    expect(originalKey('app||k')).toBe('k');
    expect(originalKey('k')).toBe('k');
    expect(originalKey('app||type||id||k')).toBe('type');
    expect(actorStateKey('app', 'Cart', '7', 'items')).toBe('app||Cart||7||items');
  });
});

describe('ttlInSeconds', () => {
  it('is undefined when absent or empty, a number otherwise, and refuses non-integers', () => {
    expect(parseTTL({})).toBeUndefined();
    expect(parseTTL({ ttlInSeconds: '' })).toBeUndefined();
    expect(parseTTL({ ttlInSeconds: '60' })).toBe(60);
    expect(parseTTL({ ttlInSeconds: '-1' })).toBe(-1);
    expect(() => parseTTL({ ttlInSeconds: '1.5' })).toThrow(/ttlInSeconds/);
  });
});

describe('state query parsing', () => {
  it('parses filters, sort and page', () => {
    const q = parseStateQuery(JSON.stringify({
      filter: { OR: [{ EQ: { 'a.b': 1 } }, { AND: [{ IN: { c: ['x', 'y'] } }, { GTE: { n: 3 } }] }] },
      sort: [{ key: 'a.b', order: 'DESC' }, { key: 'c' }],
      page: { limit: 5, token: '10' },
    }));
    expect(q.filter).toEqual({
      op: 'OR',
      filters: [
        { op: 'EQ', key: 'a.b', value: 1 },
        { op: 'AND', filters: [{ op: 'IN', key: 'c', values: ['x', 'y'] }, { op: 'GTE', key: 'n', value: 3 }] },
      ],
    });
    expect(q.sort).toEqual([{ key: 'a.b', order: 'DESC' }, { key: 'c', order: '' }]);
    expect(q.page).toEqual({ limit: 5, token: '10' });
  });

  it('treats an empty filter as none and matches top-level fields case-insensitively', () => {
    expect(parseStateQuery('{"filter":{}}').filter).toBeUndefined();
    expect(parseStateQuery('{"Page":{"Limit":2}}').page.limit).toBe(2);
  });

  it('refuses malformed documents with Dapr\'s reasons', () => {
    expect(() => parseStateQuery('{')).toThrow(/failed to parse JSON query body/);
    expect(() => parseStateQuery('{"filter":{"EQ":{"a":1},"NEQ":{"b":2}}}')).toThrow(/single element/);
    expect(() => parseStateQuery('{"filter":{"AND":[{"EQ":{"a":1}}]}}')).toThrow(/at least two entries/);
    expect(() => parseStateQuery('{"filter":{"IN":{"a":1}}}')).toThrow(/must be an array/);
    expect(() => parseStateQuery('{"filter":{"LIKE":{"a":1}}}')).toThrow(/unsupported filter "LIKE"/);
    expect(() => parseStateQuery('{"sort":[{"key":"a","order":"UP"}]}')).toThrow(/sort order/);
  });
});

describe('SQLite connection strings', () => {
  it('resolves plain paths against the working directory', () => {
    expect(parseSqliteConnectionString('data/state.db', '/srv/app').filename).toBe('/srv/app/data/state.db');
    expect(parseSqliteConnectionString('/var/lib/b/state.db', '/srv').filename).toBe('/var/lib/b/state.db');
  });

  it('accepts file: URIs with options, and in-memory forms', () => {
    const t = parseSqliteConnectionString('file:/tmp/my%20db.sqlite?mode=ro&_txlock=immediate&_pragma=synchronous(NORMAL)', '/x');
    expect(t).toEqual({ filename: '/tmp/my db.sqlite', readonly: true, pragmas: ['synchronous = NORMAL'] });
    expect(parseSqliteConnectionString('file:///tmp/a.db', '/x').filename).toBe('/tmp/a.db');
    expect(parseSqliteConnectionString('file:rel.db', '/x').filename).toBe('/x/rel.db');
    expect(parseSqliteConnectionString(':memory:', '/x').filename).toBe(':memory:');
    expect(parseSqliteConnectionString('file::memory:', '/x').filename).toBe(':memory:');
  });

  it('refuses the pragmas the store manages itself', () => {
    expect(() => parseSqliteConnectionString('file:a.db?_pragma=journal_mode(DELETE)', '/x')).toThrow(/forbidden/);
    expect(() => parseSqliteConnectionString('file:a.db?_pragma=busy_timeout(10)', '/x')).toThrow(/forbidden/);
  });
});

describe('PostgreSQL connection strings', () => {
  it('reads libpq key=value strings, quoted values included', () => {
    expect(parsePostgresConnectionString("host=db port=5433 user=me password='p w' dbname=dapr sslmode=disable")).toEqual({
      host: 'db', port: 5433, user: 'me', password: 'p w', database: 'dapr',
    });
  });

  it('passes URLs through and refuses garbage', () => {
    expect(parsePostgresConnectionString('postgres://u@h:1/d')).toEqual({ connectionString: 'postgres://u@h:1/d' });
    expect(() => parsePostgresConnectionString('host=db ???')).toThrow(/key=value/);
  });
});

describe('PostgreSQL query builder', () => {
  it('binds paths and values as parameters and pages with a token', () => {
    const q = parseStateQuery(JSON.stringify({ filter: { AND: [{ EQ: { 'p.city': "O'slo" } }, { GT: { 'p.age': 30 } }] }, sort: [{ key: 'p.age', order: 'DESC' }], page: { limit: 2, token: '4' } }));
    const sql = buildPostgresQuery(q, 'state', 'TRUE');
    expect(sql.text).not.toContain("O'slo");
    expect(sql.params).toEqual([['p', 'city'], "O'slo", ['p', 'age'], 30, ['p', 'age']]);
    expect(sql.text).toMatch(/ORDER BY value #> \$5::text\[\] DESC, key LIMIT 2 OFFSET 4$/);
    expect(sql.skip).toBe(4);
  });

  it('refuses non-numbers in range filters and bad page tokens', () => {
    expect(() => buildPostgresQuery(parseStateQuery('{"filter":{"LT":{"a":"x"}}}'), 'state', 'TRUE')).toThrow(/only numbers/);
    expect(() => buildPostgresQuery(parseStateQuery('{"page":{"limit":1,"token":"abc"}}'), 'state', 'TRUE')).toThrow(/page token/);
  });
});
