// Dapr's lock key scheme (pkg/components/lock/lock_config.go): `lock||<prefix>||<resourceId>`,
// the prefix chosen by the store's `keyPrefix` metadata.
const SEP = '||';

export type LockKeyStrategy = { kind: 'appid' } | { kind: 'name' } | { kind: 'none' } | { kind: 'custom'; prefix: string };

export function lockKeyStrategy(keyPrefix: string | undefined): LockKeyStrategy {
  const v = (keyPrefix ?? '').trim();
  switch (v.toLowerCase()) {
    case '':
    case 'appid':
      return { kind: 'appid' };
    case 'name':
      return { kind: 'name' };
    case 'none':
      return { kind: 'none' };
    default:
      if (v.includes(SEP)) throw new Error(`keyPrefix ${v} must not contain ${SEP}`);
      return { kind: 'custom', prefix: v };
  }
}

/** Throws when the resource id holds the separator, as Dapr refuses it. */
export function lockKey(strategy: LockKeyStrategy, storeName: string, appId: string, resourceId: string): string {
  if (resourceId.includes(SEP)) throw new Error(`input key/keyPrefix '${resourceId}' can't contain '${SEP}'`);
  switch (strategy.kind) {
    case 'appid':
      return appId ? `lock${SEP}${appId}${SEP}${resourceId}` : `lock${SEP}${resourceId}`;
    case 'name':
      return `lock${SEP}${storeName}${SEP}${resourceId}`;
    case 'none':
      return `lock${SEP}${resourceId}`;
    case 'custom':
      return `lock${SEP}${strategy.prefix}${SEP}${resourceId}`;
  }
}
