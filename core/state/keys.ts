// How user keys become store keys, byte for byte as Dapr derives them, so that data written by a
// Dapr sidecar is read by bulwark and back. The store's `keyPrefix` metadata picks the scheme.
import { DaprError } from '../errors.js';

export const KEY_SEPARATOR = '||';

export class KeyPrefixer {
  /** Prepended to every user key ('' for `none`). */
  readonly prefix: string;

  /** Throws a DaprError when the keyPrefix value itself contains `||`. */
  constructor(
    readonly storeName: string,
    keyPrefix: string | undefined,
    appId: string,
    namespace: string | undefined,
  ) {
    const strategy = (keyPrefix ?? 'appid').toLowerCase();
    if (strategy.includes(KEY_SEPARATOR)) throw illegalKey(storeName, strategy);
    switch (strategy) {
      case 'none':
        this.prefix = '';
        break;
      case 'name':
        this.prefix = storeName + KEY_SEPARATOR;
        break;
      case 'appid':
        this.prefix = appId ? appId + KEY_SEPARATOR : '';
        break;
      case 'namespace':
        this.prefix = !appId ? '' : namespace ? `${namespace}.${appId}${KEY_SEPARATOR}` : appId + KEY_SEPARATOR;
        break;
      default:
        this.prefix = strategy + KEY_SEPARATOR;
    }
  }

  /** The store key of a user key; a user key containing `||` is refused. */
  storeKey(key: string): string {
    if (key.includes(KEY_SEPARATOR)) throw illegalKey(this.storeName, key);
    return this.prefix + key;
  }
}

/** The user key of a store key: the second `||` segment, as Dapr returns keys. */
export function originalKey(storeKey: string): string {
  const i = storeKey.indexOf(KEY_SEPARATOR);
  if (i < 0) return storeKey;
  const rest = storeKey.slice(i + KEY_SEPARATOR.length);
  const j = rest.indexOf(KEY_SEPARATOR);
  return j < 0 ? rest : rest.slice(0, j);
}

/** Actor state keys: `<appId>||<actorType>||<actorId>||<key>`. */
export function actorStateKey(appId: string, actorType: string, actorId: string, key: string): string {
  return `${appId}${KEY_SEPARATOR}${actorType}${KEY_SEPARATOR}${actorId}${KEY_SEPARATOR}${key}`;
}

function illegalKey(storeName: string, key: string): DaprError {
  return new DaprError('stateIllegalKey', `input key/keyPrefix '${key}' can't contain '${KEY_SEPARATOR}' (state store ${storeName})`);
}
